"""The runner with scripted agents over a real GAIA-format directory: scores, limits, failures, resume."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from autogen_agentchat.messages import TextMessage
from autogen_core.models import RequestUsage

from omne_core.config import load_settings
from omne_core.models.usage import UsageLedger
from omne_eval.gaia import (
    GAIA_SYSTEM_PROMPT,
    AnswerSource,
    ErrorClass,
    GaiaRunConfig,
    GaiaRunner,
    MeteredAgent,
    RunLimits,
    load_gaia_dataset,
    read_results,
)
from omne_eval.gaia.scripted import ScriptedAgent, final_answer_reply, scripted_factory

from .gaia_agents import read_attachment_answer
from .gaia_fixture import VALIDATION_TASKS, oracle_answers


def _runner(factory, out: Path, **config) -> GaiaRunner:  # type: ignore[no-untyped-def]
    limits = config.pop("limits", RunLimits(time_limit_s=10, cancel_grace_s=0.5))
    return GaiaRunner(factory, load_settings(), GaiaRunConfig(output_dir=out, limits=limits, **config), show_progress=False)


def _submission(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "submission.jsonl").read_text().splitlines()]


async def test_oracle_answers_score_100_percent(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root).tasks
    outcome = await _runner(scripted_factory(oracle_answers()), tmp_path / "run", concurrency=3).run(tasks)
    assert len(outcome.results) == len(VALIDATION_TASKS)
    assert all(r.correct for r in outcome.results)
    assert all(r.answer_source is AnswerSource.MARKER and r.error_class is None for r in outcome.results)
    submission = _submission(tmp_path / "run")
    assert sorted(line["task_id"] for line in submission) == sorted(t.task_id for t in VALIDATION_TASKS)
    assert {line["task_id"]: line["model_answer"] for line in submission} == oracle_answers()
    assert all("FINAL ANSWER" in line["reasoning_trace"] for line in submission)


async def test_wrong_answers_score_0_percent(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root).tasks
    wrong = {t.task_id: "definitely not it" for t in tasks}
    outcome = await _runner(scripted_factory(wrong), tmp_path / "run").run(tasks)
    assert [r.correct for r in outcome.results] == [False] * len(tasks)
    assert all(r.error_class is None for r in outcome.results)  # wrong is not an error


async def test_answers_in_leaderboard_variants_still_score(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root).tasks
    variants = {"v-l3-money": "$1,000", "v-l1-bird": "Sea Gull", "v-l2-list": "Red; Yellow; Blue", "v-l3-list-num": "2,3,5"}
    answers = oracle_answers() | variants
    outcome = await _runner(scripted_factory(answers), tmp_path / "run").run(tasks)
    assert all(r.correct for r in outcome.results)


async def test_attachments_reach_the_agent_and_the_prompt_is_gaias(gaia_root: Path, tmp_path: Path) -> None:
    """The agent gets the GAIA prompt and the attachment's path, and reads XLSX, PDF and PNG from it."""
    tasks = [t for t in load_gaia_dataset(gaia_root).tasks if t.file_name]
    agents: list[ScriptedAgent] = []

    def factory(task, settings):  # type: ignore[no-untyped-def]
        assert task.attachment_path is not None and task.file_roots == [task.attachment_path]
        agents.append(ScriptedAgent([read_attachment_answer]))
        return agents[-1]

    outcome = await _runner(factory, tmp_path / "run").run(tasks)
    assert {r.file_name for r in outcome.results} == {"sales.xlsx", "report.pdf", "chart.png"}
    assert all(r.correct for r in outcome.results), [(r.task_id, r.model_answer) for r in outcome.results]
    for agent in agents:
        assert agent.received[0].startswith(GAIA_SYSTEM_PROMPT)
        assert "Attached file: " in agent.received[0]
        assert agent.closed  # the runner closes every agent it made


async def test_tokens_tool_calls_steps_and_cost_are_recorded(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain"]).tasks
    usage = RequestUsage(prompt_tokens=1000, completion_tokens=200)
    factory = scripted_factory(oracle_answers(), usage=usage, tool_calls=2, latency_s=0.02)
    [result] = (await _runner(factory, tmp_path / "run", model="gpt-4o-mini").run(tasks)).results
    assert result.tool_calls == 2
    assert result.steps == 5  # two request/execution pairs and the reply
    assert (result.prompt_tokens, result.completion_tokens) == (3000, 600)  # two requests + the reply
    assert result.cost_usd == pytest.approx((3000 * 0.15 + 600 * 0.60) / 1e6)
    assert result.seconds >= 0.02 and result.model == "gpt-4o-mini"


async def test_unknown_model_has_no_price(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain"]).tasks
    factory = scripted_factory(oracle_answers(), usage=RequestUsage(prompt_tokens=5, completion_tokens=5))
    [result] = (await _runner(factory, tmp_path / "run", model="my-local-model").run(tasks)).results
    assert result.cost_usd is None and result.prompt_tokens == 5


async def test_a_metered_agent_is_priced_per_model_from_its_ledger(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain"]).tasks
    settings = load_settings()

    def factory(task, settings_):  # type: ignore[no-untyped-def]
        ledger = UsageLedger(settings.prices)

        def reply(_: str) -> str:  # the "model calls" happen during the run
            ledger.record(model="gpt-4o", prompt_tokens=1_000_000, completion_tokens=0, latency_s=1)
            ledger.record(model="o4-mini", prompt_tokens=0, completion_tokens=1_000_000, latency_s=1)
            return final_answer_reply("42")

        return MeteredAgent(agent=ScriptedAgent([reply]), ledger=ledger)

    limits = RunLimits(time_limit_s=10, max_tokens=10_000_000)
    [result] = (await _runner(factory, tmp_path / "run", limits=limits).run(tasks)).results
    assert (result.prompt_tokens, result.completion_tokens) == (1_000_000, 1_000_000)
    assert result.cost_usd == pytest.approx(2.50 + 4.40)
    assert result.correct


async def test_a_crash_a_factory_failure_and_a_hang_are_recorded_and_the_run_goes_on(
    gaia_root: Path, tmp_path: Path
) -> None:
    tasks = load_gaia_dataset(gaia_root).tasks
    answers = oracle_answers()

    def factory(task, settings):  # type: ignore[no-untyped-def]
        if task.task_id == "v-l1-bird":
            return ScriptedAgent([RuntimeError("tool exploded")])
        if task.task_id == "v-l2-png":
            raise ValueError("no model configured")
        if task.task_id == "v-l2-pdf":
            return ScriptedAgent([], hang=True)
        return ScriptedAgent([final_answer_reply(answers[task.task_id])])

    limits = RunLimits(time_limit_s=2, cancel_grace_s=0.5)  # room for the quick tasks on a loaded machine
    outcome = await _runner(factory, tmp_path / "run", limits=limits, concurrency=4).run(tasks)
    by_id = {r.task_id: r for r in outcome.results}
    assert len(by_id) == len(tasks)
    assert by_id["v-l1-bird"].error_class is ErrorClass.AGENT_ERROR and "tool exploded" in by_id["v-l1-bird"].error
    assert by_id["v-l2-png"].error_class is ErrorClass.FACTORY_ERROR and "no model configured" in by_id["v-l2-png"].error
    hung = by_id["v-l2-pdf"]
    assert hung.error_class is ErrorClass.TIMEOUT and "timed out after 2 s" in hung.error
    assert hung.correct is False and hung.model_answer is None and 2 <= hung.seconds < 5
    fine = [r for r in outcome.results if r.task_id not in {"v-l1-bird", "v-l2-png", "v-l2-pdf"}]
    assert len(fine) == 5 and all(r.correct for r in fine)


async def test_an_agent_ignoring_cancellation_is_abandoned_as_a_timeout(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain", "v-l1-bird"]).tasks

    def factory(task, settings):  # type: ignore[no-untyped-def]
        if task.task_id == "v-l1-plain":
            return ScriptedAgent([], hang=True, ignore_cancellation=True)
        return ScriptedAgent([final_answer_reply("seagull")])

    limits = RunLimits(time_limit_s=2.0, cancel_grace_s=0.2)  # room for the quick task on a loaded machine
    outcome = await _runner(factory, tmp_path / "run", limits=limits, concurrency=1).run(tasks)
    by_id = {r.task_id: r for r in outcome.results}
    assert by_id["v-l1-plain"].error_class is ErrorClass.TIMEOUT
    assert "ignored cancellation" in by_id["v-l1-plain"].error
    assert by_id["v-l1-bird"].correct


async def test_step_and_token_limits(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain", "v-l1-bird"]).tasks

    def factory(task, settings):  # type: ignore[no-untyped-def]
        if task.task_id == "v-l1-plain":
            return ScriptedAgent([final_answer_reply("42")], tool_calls=10)
        return ScriptedAgent([final_answer_reply("seagull")], usage=RequestUsage(prompt_tokens=900, completion_tokens=100))

    limits = RunLimits(time_limit_s=5, max_steps=6, max_tokens=500)
    outcome = await _runner(factory, tmp_path / "run", limits=limits).run(tasks)
    by_id = {r.task_id: r for r in outcome.results}
    assert by_id["v-l1-plain"].error_class is ErrorClass.STEP_LIMIT and by_id["v-l1-plain"].steps == 7
    assert by_id["v-l1-bird"].error_class is ErrorClass.TOKEN_LIMIT and "500" in by_id["v-l1-bird"].error
    assert not any(r.correct for r in outcome.results)


async def test_answer_extraction_follow_up_bare_and_stopped(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, levels=[1]).tasks  # plain, xlsx, bird
    agents: dict[str, ScriptedAgent] = {}

    def factory(task, settings):  # type: ignore[no-untyped-def]
        script = {
            "v-l1-plain": ["Let me think.\nSix sevens are forty-two.\nThat is my reasoning.", "FINAL ANSWER: 42"],
            "v-l1-xlsx": ["100"],
            "v-l1-bird": [TextMessage(content="[budget_exhausted] no answer", source="a",
                                      metadata={"status": "budget_exhausted", "reason": "step budget reached"})],
        }[task.task_id]  # fmt: skip
        agents[task.task_id] = ScriptedAgent(script)
        return agents[task.task_id]

    outcome = await _runner(factory, tmp_path / "run").run(tasks)
    by_id = {r.task_id: r for r in outcome.results}
    assert by_id["v-l1-plain"].answer_source is AnswerSource.FOLLOW_UP and by_id["v-l1-plain"].correct
    assert "FINAL ANSWER" in agents["v-l1-plain"].received[1]  # the follow-up asked for the template
    assert by_id["v-l1-xlsx"].answer_source is AnswerSource.BARE and by_id["v-l1-xlsx"].correct
    assert by_id["v-l1-bird"].error_class is ErrorClass.AGENT_STOPPED and "step budget" in by_id["v-l1-bird"].error


async def test_no_answer_without_follow_up(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, task_ids=["v-l1-plain"]).tasks
    factory = scripted_factory({"v-l1-plain": "x"})

    def rambling(task, settings):  # type: ignore[no-untyped-def]
        return ScriptedAgent(["I am not sure.\nIt could be many things."])

    limits = RunLimits(time_limit_s=5, follow_up=False)
    [result] = (await _runner(rambling, tmp_path / "run", limits=limits).run(tasks)).results
    assert result.error_class is ErrorClass.NO_ANSWER and result.model_answer is None and result.correct is False
    assert factory  # the default scripted factory stays usable alongside


async def test_hidden_answers_are_run_but_not_scored(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, "test").tasks
    outcome = await _runner(scripted_factory({"t-1": "Reykjavik"}), tmp_path / "run").run(tasks)
    assert len(outcome.results) == 3 and all(r.correct is None and r.ground_truth is None for r in outcome.results)
    assert {line["task_id"]: line["model_answer"] for line in _submission(tmp_path / "run")}["t-1"] == "Reykjavik"


async def test_a_cancelled_run_resumes_with_exactly_the_remaining_tasks(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root).tasks
    out = tmp_path / "run"
    started: list[str] = []
    answers = oracle_answers()

    def factory(task, settings):  # type: ignore[no-untyped-def]
        started.append(task.task_id)
        return ScriptedAgent([final_answer_reply(answers[task.task_id])], latency_s=0.05)

    run = asyncio.create_task(_runner(factory, out, concurrency=2).run(tasks))
    for _ in range(1000):  # watch the file itself: what is on disk is what a rerun sees
        if len(read_results(out / "results.jsonl")) >= 3:
            break
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    first = set(read_results(out / "results.jsonl"))
    assert 3 <= len(first) < len(tasks)

    started.clear()
    outcome = await _runner(factory, out, concurrency=2).run(tasks)
    assert sorted(started) == sorted(t.task_id for t in tasks if t.task_id not in first)
    assert sorted(outcome.ran) == sorted(started) and outcome.resumed == len(first)
    lines = [json.loads(x)["task_id"] for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(lines) == sorted(t.task_id for t in tasks)  # every task exactly once
    assert all(r.correct for r in outcome.results)

    started.clear()
    again = await _runner(factory, out).run(tasks)
    assert started == [] and again.ran == [] and again.resumed == len(tasks)


async def test_retry_errors_reruns_only_failed_tasks(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, levels=[1]).tasks
    out = tmp_path / "run"
    answers = oracle_answers()

    def flaky(task, settings):  # type: ignore[no-untyped-def]
        if task.task_id == "v-l1-bird":
            return ScriptedAgent([RuntimeError("transient")])
        return ScriptedAgent([final_answer_reply(answers[task.task_id])])

    await _runner(flaky, out, agent="solver").run(tasks)
    retried = await _runner(scripted_factory(answers), out, agent="solver", retry_errors=True).run(tasks)
    assert retried.ran == ["v-l1-bird"]
    assert all(r.correct for r in retried.results)
    assert read_results(out / "results.jsonl")["v-l1-bird"].error is None  # the later line wins


async def test_a_torn_last_line_is_ignored_and_the_task_rerun(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, levels=[1]).tasks
    out = tmp_path / "run"
    await _runner(scripted_factory(oracle_answers()), out).run(tasks[:2])
    with (out / "results.jsonl").open("a") as fh:
        fh.write('{"task_id": "v-l1-bird", "level": 1, "model_ans')  # a write cut by a crash
    with pytest.warns(UserWarning, match="unreadable"):
        outcome = await _runner(scripted_factory(oracle_answers()), out).run(tasks)
    assert outcome.ran == ["v-l1-bird"]
    assert all(r.correct for r in outcome.results) and len(outcome.results) == 3


async def test_a_stock_autogen_assistant_and_a_team_run_unchanged(gaia_root: Path, tmp_path: Path) -> None:
    """Any AutoGen agent or team: an AssistantAgent on a replayed model, and a RoundRobinGroupChat of it."""
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.conditions import MaxMessageTermination
    from autogen_agentchat.teams import RoundRobinGroupChat
    from autogen_ext.models.replay import ReplayChatCompletionClient

    tasks = load_gaia_dataset(gaia_root, levels=[1]).tasks
    answers = oracle_answers()

    def factory(task, settings):  # type: ignore[no-untyped-def]
        client = ReplayChatCompletionClient([final_answer_reply(answers[task.task_id])])
        agent = AssistantAgent("solver", client, system_message=GAIA_SYSTEM_PROMPT)
        if task.task_id == "v-l1-bird":
            return RoundRobinGroupChat([agent], termination_condition=MaxMessageTermination(2))
        return agent

    outcome = await _runner(factory, tmp_path / "run").run(tasks)
    assert all(r.correct and r.error is None for r in outcome.results), [(r.task_id, r.error) for r in outcome.results]
    assert all(r.prompt_tokens > 0 for r in outcome.results)  # summed from the messages' models_usage


async def test_the_progress_bar_shows_running_accuracy_tokens_and_cost(gaia_root: Path, tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    tasks = load_gaia_dataset(gaia_root, levels=[1]).tasks
    answers = oracle_answers() | {"v-l1-bird": "pelican"}
    console = Console(file=StringIO(), force_terminal=True, width=200)
    factory = scripted_factory(answers, usage=RequestUsage(prompt_tokens=1500, completion_tokens=500))
    config = GaiaRunConfig(output_dir=tmp_path / "run", model="gpt-4o", concurrency=1)
    await GaiaRunner(factory, load_settings(), config, console=console, show_progress=True).run(tasks)
    shown = console.file.getvalue()
    assert "3/3" in shown and "acc 66.7% (2/3)" in shown
    assert "6.0k tok" in shown and "$0.0263" in shown  # 3 x (1500 x $2.50 + 500 x $10) / 1M


async def test_run_json_names_the_factory_actually_used(gaia_root: Path, tmp_path: Path) -> None:
    tasks = load_gaia_dataset(gaia_root, limit=2).tasks
    await _runner(scripted_factory(oracle_answers()), tmp_path / "run").run(tasks)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["agent"] == "omne_eval.gaia.scripted:scripted_factory.<locals>.factory"
    assert info["model"] == load_settings().models.main.model and info["split"] == "validation"


async def test_a_rerun_with_another_agent_or_model_refuses_and_keeps_the_old_results(
    gaia_root: Path, tmp_path: Path
) -> None:
    from omne_eval.gaia import GaiaRunMismatchError

    out = tmp_path / "run"
    tasks = load_gaia_dataset(gaia_root).tasks
    await _runner(scripted_factory(oracle_answers()), out, agent="oracle", model="model-a").run(tasks[:3])
    before = {name: (out / name).read_bytes() for name in ("results.jsonl", "run.json", "submission.jsonl")}
    wrong = scripted_factory({t.task_id: "nope" for t in tasks})
    for other in ({"agent": "guesser", "model": "model-a"}, {"agent": "oracle", "model": "model-b"}):
        with pytest.raises(GaiaRunMismatchError, match="holds another run"):
            await _runner(wrong, out, **other).run(tasks)
        assert {name: (out / name).read_bytes() for name in before} == before  # nothing relabelled or added
    test_tasks = load_gaia_dataset(gaia_root, "test").tasks
    with pytest.raises(GaiaRunMismatchError, match="split 'validation'"):
        await _runner(wrong, out, agent="oracle", model="model-a").run(test_tasks)

    # the same agent and model resume the run: only the remaining tasks run
    outcome = await _runner(scripted_factory(oracle_answers()), out, agent="oracle", model="model-a").run(tasks)
    assert outcome.resumed == 3 and len(outcome.ran) == len(tasks) - 3


async def test_an_older_run_without_run_json_is_checked_by_its_results_model(gaia_root: Path, tmp_path: Path) -> None:
    from omne_eval.gaia import GaiaRunMismatchError

    out = tmp_path / "run"
    tasks = load_gaia_dataset(gaia_root).tasks
    await _runner(scripted_factory(oracle_answers()), out, model="model-a").run(tasks[:2])
    (out / "run.json").unlink()
    with pytest.raises(GaiaRunMismatchError, match="model 'model-a'"):
        await _runner(scripted_factory(oracle_answers()), out, model="model-b").run(tasks)
