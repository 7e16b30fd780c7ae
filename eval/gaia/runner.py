"""Run an agent over GAIA tasks: N at once, each bounded in time, steps and tokens, each result on disk at once.

A rerun with the same output directory resumes: tasks already in `results.jsonl` are not run again. A task
that crashes, hangs or exceeds a limit is recorded with its error class and never stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    ModelClientStreamingChunkEvent,
    ToolCallRequestEvent,
)
from autogen_core import CancellationToken
from pydantic import BaseModel, Field

from omne_core.models.usage import cost_usd, price_for

from .factory import AgentFactory, MeteredAgent, RunLimits, build_agent, factory_name
from .progress import RunProgress
from .prompt import FOLLOW_UP_PROMPT, build_task_message, extract_final_answer, fallback_answer
from .results import (
    RESULTS_FILE,
    SUBMISSION_FILE,
    AnswerSource,
    ErrorClass,
    GaiaResult,
    ResultsFile,
    write_submission,
)
from .run_info import RunInfo, claim_run_dir
from .scorer import lenient_question_scorer, question_scorer
from .task import GaiaTask

if TYPE_CHECKING:
    from rich.console import Console

    from omne_core.config import OmneSettings
    from omne_core.models.usage import UsageLedger

_MAX_TRACE_CHARS = 20_000
_MAX_TRACE_ITEM_CHARS = 2_000


class GaiaRunConfig(BaseModel):
    """Where results go and how the run is paced and priced."""

    output_dir: Path
    concurrency: int = Field(default=4, ge=1)
    limits: RunLimits = Field(default_factory=RunLimits)
    model: str | None = None  # priced from settings.prices; None: settings.models.main.model
    retry_errors: bool = False  # run again the tasks recorded with an error
    agent: str = ""  # the factory's name for run.json (default: its `module:qualname`)


class RunOutcome(BaseModel):
    """What a `run` call did: the tasks it ran now and all results of the selected tasks."""

    output_dir: Path
    ran: list[str]
    resumed: int  # tasks already in results.jsonl, not run again
    results: list[GaiaResult]


class _FactoryFailed(Exception):
    """The agent factory raised or returned something unusable."""


class _LimitReached(Exception):
    def __init__(self, error_class: ErrorClass, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


@dataclass
class _TaskMeter:
    """What one task has done so far; read after a timeout too."""

    limits: RunLimits
    ledger: UsageLedger | None = None
    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    trace: list[str] = field(default_factory=list)
    trace_chars: int = 0
    last_reply: BaseChatMessage | None = None

    def tokens(self) -> tuple[int, int]:
        if self.ledger is not None:
            summary = self.ledger.summary()
            return summary.prompt_tokens, summary.completion_tokens
        return self.prompt_tokens, self.completion_tokens

    def observe(self, item: BaseAgentEvent | BaseChatMessage) -> None:
        """Count one streamed item and raise `_LimitReached` when a step or token limit is crossed."""
        self.steps += 1
        usage = item.models_usage
        if usage is not None:
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
        if isinstance(item, ToolCallRequestEvent):
            self.tool_calls += len(item.content)
        if isinstance(item, BaseChatMessage):
            self.last_reply = item
        self._trace(item)
        if self.steps > self.limits.max_steps:
            raise _LimitReached(ErrorClass.STEP_LIMIT, f"step limit of {self.limits.max_steps} reached")
        used = sum(self.tokens())
        if used > self.limits.max_tokens:
            raise _LimitReached(ErrorClass.TOKEN_LIMIT, f"token limit of {self.limits.max_tokens} reached ({used})")

    def _trace(self, item: BaseAgentEvent | BaseChatMessage) -> None:
        if self.trace_chars >= _MAX_TRACE_CHARS:
            return
        try:
            text = item.to_text()
        except Exception:  # noqa: BLE001 - a message that cannot render must not fail the task
            text = repr(item)
        line = f"[{item.source}] {type(item).__name__}: {text[:_MAX_TRACE_ITEM_CHARS]}"
        self.trace.append(line)
        self.trace_chars += len(line)


@dataclass
class _Answer:
    text: str | None
    source: AnswerSource
    error_class: ErrorClass | None = None
    error: str | None = None


def _reply_text(message: BaseChatMessage | None) -> str | None:
    if message is None:
        return None
    try:
        return message.to_text()
    except Exception:  # noqa: BLE001
        return None


class GaiaRunner:
    """Runs an agent factory over GAIA tasks into `config.output_dir` (results.jsonl, submission.jsonl)."""

    def __init__(
        self,
        factory: AgentFactory,
        settings: OmneSettings,
        config: GaiaRunConfig,
        *,
        console: Console | None = None,
        show_progress: bool = True,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.config = config
        self.console = console
        self.show_progress = show_progress
        self.model = config.model or settings.models.main.model
        self.agent = config.agent or factory_name(factory)
        self.output_dir = Path(config.output_dir)

    @property
    def results_path(self) -> Path:
        return self.output_dir / RESULTS_FILE

    @property
    def submission_path(self) -> Path:
        return self.output_dir / SUBMISSION_FILE

    # -- the whole run -----------------------------------------------------------------------------
    async def run(self, tasks: Sequence[GaiaTask]) -> RunOutcome:
        """Run every task not yet recorded; returns when all are recorded (or the run is cancelled)."""
        claim_run_dir(self.output_dir, self._run_info(tasks))
        with ResultsFile(self.results_path) as results_file:
            done = results_file.read()
            pending = [t for t in tasks if not self._is_done(done.get(t.task_id))]
            selected = {t.task_id for t in tasks}
            progress = RunProgress(
                total=len(tasks),
                console=self.console,
                enabled=self.show_progress,
                already=[r for tid, r in done.items() if tid in selected and self._is_done(r)],
            )
            queue: asyncio.Queue[GaiaTask] = asyncio.Queue()
            for task in pending:
                queue.put_nowait(task)

            async def worker() -> None:
                while True:
                    try:
                        task = queue.get_nowait()
                    except asyncio.QueueEmpty:
                        return
                    result = await self.run_task(task)
                    await results_file.append_async(result)
                    progress.advance(result)

            try:
                with progress:
                    workers = [asyncio.create_task(worker()) for _ in range(min(self.config.concurrency, len(pending)))]
                    try:
                        await asyncio.gather(*workers)
                    finally:
                        for w in workers:
                            w.cancel()
                        await asyncio.gather(*workers, return_exceptions=True)
            finally:
                all_results = results_file.read()
                write_submission(all_results.values(), self.submission_path)
        return RunOutcome(
            output_dir=self.output_dir,
            ran=[t.task_id for t in pending],
            resumed=len(tasks) - len(pending),
            results=[all_results[t.task_id] for t in tasks if t.task_id in all_results],
        )

    def _is_done(self, result: GaiaResult | None) -> bool:
        if result is None:
            return False
        return not (self.config.retry_errors and result.error_class is not None)

    def _run_info(self, tasks: Sequence[GaiaTask]) -> RunInfo:
        return RunInfo(
            agent=self.agent,
            model=self.model,
            split=tasks[0].split.value if tasks else None,
            concurrency=self.config.concurrency,
            limits=self.config.limits,
            tasks=len(tasks),
        )

    # -- one task ----------------------------------------------------------------------------------
    async def run_task(self, task: GaiaTask) -> GaiaResult:
        """Run one task to a `GaiaResult`; never raises for agent failures, limits or timeouts."""
        limits = self.config.limits
        started = time.monotonic()
        meter = _TaskMeter(limits=limits)
        token = CancellationToken()
        # The agent is built and run in its own task, so the time limit covers both and an agent that
        # ignores cancellation can be abandoned (asyncio.wait, unlike wait_for, never swallows our cancel).
        drive = asyncio.create_task(self._drive(task, meter, token))
        try:
            done, _ = await asyncio.wait({drive}, timeout=limits.time_limit_s)
            if drive in done:
                answer = self._outcome(drive)
            else:
                answer = await self._stop(drive, token, f"timed out after {limits.time_limit_s:g} s")
        except asyncio.CancelledError:
            token.cancel()
            drive.cancel()
            raise
        return self._result(task, answer, meter, started)

    async def _drive(self, task: GaiaTask, meter: _TaskMeter, token: CancellationToken) -> _Answer:
        try:
            metered = await build_agent(self.factory, task.for_agent(), self.settings, self.config.limits)
        except Exception as exc:
            raise _FactoryFailed(f"{type(exc).__name__}: {exc}") from exc
        meter.ledger = metered.ledger
        try:
            return await self._solve(metered.agent, task, meter, token)
        finally:
            await self._close(metered)

    async def _solve(self, agent: object, task: GaiaTask, meter: _TaskMeter, token: CancellationToken) -> _Answer:
        await self._stream(agent, build_task_message(task.for_agent()), meter, token)
        reply = _reply_text(meter.last_reply)
        answer = extract_final_answer(reply)
        if answer is not None:
            return _Answer(answer, AnswerSource.MARKER)
        status = (getattr(meter.last_reply, "metadata", None) or {}).get("status")
        if status and status != "answered":
            reason = (meter.last_reply.metadata or {}).get("reason", "")  # type: ignore[union-attr]
            return _Answer(None, AnswerSource.NONE, ErrorClass.AGENT_STOPPED, f"agent stopped ({status}): {reason}"[:500])
        if reply and len(reply.strip().splitlines()) == 1:
            bare = fallback_answer(reply)
            if bare:
                return _Answer(bare, AnswerSource.BARE)
        if self.config.limits.follow_up and reply:
            await self._stream(agent, FOLLOW_UP_PROMPT, meter, token)
            answer = extract_final_answer(_reply_text(meter.last_reply))
            if answer is not None:
                return _Answer(answer, AnswerSource.FOLLOW_UP)
        return _Answer(None, AnswerSource.NONE, ErrorClass.NO_ANSWER, "the agent gave no FINAL ANSWER")

    @staticmethod
    async def _stream(agent: object, message: str, meter: _TaskMeter, token: CancellationToken) -> None:
        stream = agent.run_stream(task=message, cancellation_token=token)  # type: ignore[attr-defined]
        try:
            async for item in stream:
                if isinstance(item, TaskResult) or isinstance(item, ModelClientStreamingChunkEvent):
                    continue
                if isinstance(item, BaseChatMessage) and item.source == "user":
                    continue  # the task message echoed back
                meter.observe(item)
        except _LimitReached:
            token.cancel()
            raise
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()

    @staticmethod
    def _outcome(drive: asyncio.Task[_Answer]) -> _Answer:
        if drive.cancelled():
            return _Answer(None, AnswerSource.NONE, ErrorClass.AGENT_ERROR, "the agent's run was cancelled")
        exc = drive.exception()
        if exc is None:
            return drive.result()
        if isinstance(exc, _LimitReached):
            return _Answer(None, AnswerSource.NONE, exc.error_class, str(exc))
        if isinstance(exc, _FactoryFailed):
            return _Answer(None, AnswerSource.NONE, ErrorClass.FACTORY_ERROR, str(exc)[:2000])
        return _Answer(None, AnswerSource.NONE, ErrorClass.AGENT_ERROR, f"{type(exc).__name__}: {exc}"[:2000])

    async def _stop(self, drive: asyncio.Task[_Answer], token: CancellationToken, why: str) -> _Answer:
        """Cancel a task that ran out of time; an agent that ignores cancellation is abandoned after the grace."""
        token.cancel()
        drive.cancel()
        done, _ = await asyncio.wait({drive}, timeout=self.config.limits.cancel_grace_s)
        if drive not in done:
            why += " (the agent ignored cancellation and was abandoned)"
        elif not drive.cancelled() and drive.exception() is None:
            return drive.result()  # it finished just as time ran out
        return _Answer(None, AnswerSource.NONE, ErrorClass.TIMEOUT, why)

    async def _close(self, metered: MeteredAgent) -> None:
        """Release the agent's resources; a close that fails or hangs costs at most the grace period."""
        for close in (getattr(metered.agent, "close", None), metered.on_close):
            if close is None:
                continue
            closing = asyncio.ensure_future(close())
            done, _ = await asyncio.wait({closing}, timeout=max(self.config.limits.cancel_grace_s, 0.1))
            if closing in done:
                with contextlib.suppress(Exception):
                    closing.result()
            else:
                closing.cancel()

    def _result(self, task: GaiaTask, answer: _Answer, meter: _TaskMeter, started: float) -> GaiaResult:
        prompt_tokens, completion_tokens = meter.tokens()
        if meter.ledger is not None:
            summary = meter.ledger.summary()
            cost = None if summary.calls and len(summary.unpriced_models) == len(summary.models) else summary.cost_usd
        else:
            cost = cost_usd(prompt_tokens, completion_tokens, price_for(self.model, self.settings.prices))
        truth = task.final_answer
        return GaiaResult(
            task_id=task.task_id,
            level=task.level,
            question=task.question,
            file_name=task.file_name,
            model_answer=answer.text,
            ground_truth=truth,
            correct=None if truth is None else question_scorer(answer.text, truth),
            lenient_correct=None if truth is None else lenient_question_scorer(answer.text, truth),
            answer_source=answer.source,
            steps=meter.steps,
            tool_calls=meter.tool_calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            seconds=round(time.monotonic() - started, 3),
            error=answer.error,
            error_class=answer.error_class,
            reasoning_trace="\n".join(meter.trace),
            model=self.model,
        )


async def run_gaia(
    tasks: Sequence[GaiaTask],
    factory: AgentFactory,
    settings: OmneSettings,
    config: GaiaRunConfig,
    *,
    show_progress: bool = False,
) -> RunOutcome:
    """Run `factory`'s agent over `tasks` into `config.output_dir`; see `GaiaRunner`."""
    return await GaiaRunner(factory, settings, config, show_progress=show_progress).run(tasks)
