"""Per-task results: the typed record, the durable append-only results file, and the leaderboard submission."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from .errors import GaiaResultsError
from .jsonl import read_objects

RESULTS_FILE = "results.jsonl"
SUBMISSION_FILE = "submission.jsonl"


class ErrorClass(StrEnum):
    """Why a task has no (trustworthy) answer."""

    TIMEOUT = "timeout"
    STEP_LIMIT = "step_limit"
    TOKEN_LIMIT = "token_limit"
    AGENT_ERROR = "agent_error"  # the agent raised
    AGENT_STOPPED = "agent_stopped"  # the agent said it gave up (metadata status other than "answered")
    FACTORY_ERROR = "factory_error"  # the agent could not be built
    NO_ANSWER = "no_answer"  # the agent finished without an extractable answer (or a submission's is empty)
    UNANSWERED = "unanswered"  # a scored submission has no line for the task


class AnswerSource(StrEnum):
    """How the final answer was extracted from the agent's reply."""

    MARKER = "marker"  # after `FINAL ANSWER:` in the reply
    FOLLOW_UP = "follow_up"  # after `FINAL ANSWER:` in the reply to a follow-up asking for the template
    BARE = "bare"  # the reply was a single short line (agents that return only the answer)
    NONE = "none"


class GaiaResult(BaseModel):
    """One finished task: what the agent answered, whether it is right, and what it cost."""

    task_id: str
    level: int
    question: str = ""
    file_name: str = ""
    model_answer: str | None = None
    ground_truth: str | None = None  # None when the split hides it
    correct: bool | None = None  # None when not scorable
    lenient_correct: bool | None = None
    answer_source: AnswerSource = AnswerSource.NONE
    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None  # None: no price known for the model
    seconds: float = 0.0
    error: str | None = None
    error_class: ErrorClass | None = None
    reasoning_trace: str = ""
    model: str | None = None
    finished_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class SubmissionLine(BaseModel):
    """One line of the leaderboard's submission file."""

    task_id: str
    model_answer: str
    reasoning_trace: str = ""


def read_results(path: Path) -> dict[str, GaiaResult]:
    """Every recorded task by id (a later line for the same id wins); torn or corrupt lines are skipped."""
    results: dict[str, GaiaResult] = {}
    if not path.exists():
        return results
    bad = 0
    with path.open("rb") as fh:
        for line in fh:  # lines as bytes: a line cut inside a character is one torn line, not a failed file
            if not line.strip():
                continue
            try:
                record = GaiaResult.model_validate_json(line.decode("utf-8"))
            except (ValidationError, UnicodeDecodeError):
                bad += 1
                continue
            results[record.task_id] = record
    if bad:
        warnings.warn(f"{path}: skipped {bad} unreadable line(s) (e.g. a write cut by a crash)", stacklevel=2)
    return results


class ResultsFile:
    """`results.jsonl`, appended one fsync'ed line per finished task so a killed run loses nothing finished."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._terminate_torn_line()
        self._fh = self.path.open("a", encoding="utf-8")

    def _terminate_torn_line(self) -> None:
        """End a line a crash left unfinished, so the next record starts on its own line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
                fh.flush()
                os.fsync(fh.fileno())

    def read(self) -> dict[str, GaiaResult]:
        return read_results(self.path)

    def append(self, result: GaiaResult) -> None:
        """Write one record and force it to disk before returning."""
        self._write(result)
        os.fsync(self._fh.fileno())

    async def append_async(self, result: GaiaResult) -> None:
        """`append` with the fsync in a worker thread, so other tasks keep running while the disk syncs."""
        self._write(result)
        await asyncio.to_thread(os.fsync, self._fh.fileno())

    def _write(self, result: GaiaResult) -> None:
        self._fh.write(result.model_dump_json() + "\n")  # one whole line per write, in the event loop's thread
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_submission(results: Iterable[GaiaResult], path: Path, max_trace_chars: int = 20_000) -> Path:
    """Write the leaderboard file (`task_id`, `model_answer`, `reasoning_trace`) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for result in results:
            line = SubmissionLine(
                task_id=result.task_id,
                model_answer=result.model_answer or "",
                reasoning_trace=result.reasoning_trace[:max_trace_chars],
            )
            fh.write(line.model_dump_json() + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


def read_answers(path: Path) -> dict[str, str | None]:
    """Model answers by task id from a submission or results file (a later line for the same id wins)."""
    answers: dict[str, str | None] = {}
    for lineno, row in read_objects(Path(path), GaiaResultsError):
        if "task_id" not in row or "model_answer" not in row:
            raise GaiaResultsError(f"{path}:{lineno}: expected an object with task_id and model_answer")
        answer = row["model_answer"]
        answers[str(row["task_id"])] = None if answer is None else str(answer)
    return answers
