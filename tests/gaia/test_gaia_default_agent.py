"""The default factory: the Reactive Responder with the real tools, on a scripted model, reads the attachment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from autogen_core import FunctionCall
from autogen_core.models import CreateResult, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient

from omne_core.config import load_settings
from omne_eval.gaia import (
    DEFAULT_AGENT_FACTORY,
    AnswerSource,
    GaiaRunConfig,
    GaiaRunner,
    RunLimits,
    load_agent_factory,
)
from omne_eval.gaia.loader import load_gaia_dataset
from tests.support.scripted import TOOL_MODEL

from .gaia_fixture import XLSX_VALUES


def _model_component(path: Path, attachment: Path) -> Path:
    plan = {
        "analysis": {"asked": "the total of the Amount column", "constraints": [], "answer_format": "a number"},
        "steps": ["read the spreadsheet", "add the amounts"],
    }
    read = CreateResult(
        finish_reason="function_calls",
        content=[FunctionCall(id="call_0", name="read_file", arguments=json.dumps({"path": str(attachment)}))],
        usage=RequestUsage(prompt_tokens=900, completion_tokens=30),
        cached=False,
    )
    replies = [
        json.dumps(plan),
        read,
        "The amounts add up to 100.\nFINAL ANSWER: 100",
        json.dumps({"satisfies": True, "problems": [], "final_answer": "100"}),
    ]
    path.write_text(ReplayChatCompletionClient(replies, model_info=TOOL_MODEL).dump_component().model_dump_json())
    return path


async def test_reactive_responder_reads_the_xlsx_through_the_file_reader(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [task] = load_gaia_dataset(gaia_root, task_ids=["v-l1-xlsx"]).tasks
    monkeypatch.setenv("OMNE_MODEL_COMPONENT", str(_model_component(tmp_path / "model.json", task.attachment_path)))
    monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "gpt-4o-mini")
    settings = load_settings()
    factory = load_agent_factory(DEFAULT_AGENT_FACTORY)
    config = GaiaRunConfig(output_dir=tmp_path / "run", limits=RunLimits(time_limit_s=60))
    [result] = (await GaiaRunner(factory, settings, config, show_progress=False).run([task])).results

    assert result.error is None, result.error
    assert result.model_answer == "100" and result.correct
    assert result.answer_source is AnswerSource.BARE  # the Responder replies with the checked answer alone
    assert result.tool_calls == 1
    # The real file reader opened the attachment: its cells are in the tool result of the trace.
    assert "read_file" in result.reasoning_trace
    assert all(f"{v:g}" in result.reasoning_trace for v in XLSX_VALUES), result.reasoning_trace
    # Usage comes from the ledger the factory's clients record into.
    assert result.prompt_tokens >= 900 and result.model == "gpt-4o-mini"
    assert result.cost_usd is not None and result.cost_usd > 0


async def test_a_path_outside_the_task_files_is_refused_by_the_file_reader(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [task] = load_gaia_dataset(gaia_root, task_ids=["v-l1-xlsx"]).tasks
    other = load_gaia_dataset(gaia_root, "test").tasks[2].attachment_path  # the test split's copy, not this task's
    monkeypatch.setenv("OMNE_MODEL_COMPONENT", str(_model_component(tmp_path / "model.json", other)))
    factory = load_agent_factory(DEFAULT_AGENT_FACTORY)
    config = GaiaRunConfig(output_dir=tmp_path / "run", limits=RunLimits(time_limit_s=60))
    [result] = (await GaiaRunner(factory, load_settings(), config, show_progress=False).run([task])).results
    assert result.tool_calls == 1
    assert "is_error=True" in result.reasoning_trace  # the reader refused the path
    assert "12.5" not in result.reasoning_trace  # nothing of the file leaked


def test_a_logic_expert_left_on_the_embedded_default_uses_the_hosted_main_model(monkeypatch) -> None:
    from omne_eval.gaia.default_agent import _SHARED_LOCAL, _task_clients

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "openai")
    monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "gpt-4o-mini")
    clients = _task_clients(load_settings())
    assert clients.logic is clients.main and clients.vision is None
    assert clients.owned == [clients.main] and not _SHARED_LOCAL  # no GGUF was loaded

    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__PROVIDER", "openai")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__MODEL", "o4-mini")
    clients = _task_clients(load_settings())
    assert clients.logic is not clients.main and len(clients.owned) == 2
    clients.ledger.record(model="o4-mini", prompt_tokens=0, completion_tokens=1_000_000, latency_s=1)
    assert clients.ledger.summary().cost_usd == pytest.approx(4.40)  # one ledger prices every role's model


async def test_the_default_agent_cannot_read_the_answer_key_or_other_tasks_files(
    gaia_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the task's own attachment is readable: not metadata.jsonl (every answer), nor the split folder,
    nor another task's attachment, by relative, absolute or `../` paths, nor through a file:// URL."""
    from autogen_core import CancellationToken

    [task] = load_gaia_dataset(gaia_root, task_ids=["v-l1-xlsx"]).tasks
    split_dir = task.attachment_path.parent
    monkeypatch.setenv("OMNE_MODEL_COMPONENT", str(_model_component(tmp_path / "model.json", task.attachment_path)))
    monkeypatch.setenv("OMNE_WEB__ALLOW_FILE_URLS", "true")  # even a configuration that allows file:// URLs
    factory = load_agent_factory(DEFAULT_AGENT_FACTORY)
    metered = await factory(task.for_agent(), load_settings())
    tools = {tool.name: tool for tool in metered.agent.tools}
    token = CancellationToken()

    async def call(name: str, **args: str) -> str:
        return tools[name].return_value_as_string(await tools[name].run_json(args, token))

    probes = ["metadata.jsonl", str(split_dir / "metadata.jsonl"), "../validation/metadata.jsonl",
              str(split_dir), ".", "report.pdf", str(split_dir / "report.pdf")]  # fmt: skip
    for probe in probes:
        text = await call("read_file", path=probe)
        assert text.startswith("Error:"), (probe, text[:300])
        for secret in ("Reykjavik", "seagull", "Final answer", "chart.png"):  # answers, other tasks' files
            assert secret not in text, (probe, secret)
    page = await call("visit_page", url=(split_dir / "metadata.jsonl").as_uri())
    assert page.startswith("Error:") and "Final answer" not in page
    attachment = await call("read_file", path=str(task.attachment_path))
    assert all(f"{v:g}" in attachment for v in XLSX_VALUES)  # the attachment itself is readable
    assert (await call("read_file", path=task.file_name)) == attachment  # by its name too
    await metered.agent.close()
    if metered.on_close is not None:
        await metered.on_close()
