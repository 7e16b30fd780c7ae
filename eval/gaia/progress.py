"""A rich progress bar for a GAIA run, with running accuracy (when answers are known), tokens and cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .results import GaiaResult

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


@dataclass
class RunTally:
    """Running totals over finished tasks."""

    done: int = 0
    scored: int = 0
    correct: int = 0
    errors: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0

    def add(self, result: GaiaResult) -> None:
        self.done += 1
        if result.correct is not None:
            self.scored += 1
            self.correct += int(result.correct)
        self.errors += result.error_class is not None
        self.tokens += result.total_tokens
        if result.cost_usd is None:
            self.unpriced += 1
        else:
            self.cost_usd += result.cost_usd

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    def describe(self) -> str:
        parts = []
        if self.accuracy is not None:
            parts.append(f"acc {self.accuracy:.1%} ({self.correct}/{self.scored})")
        parts.append(f"{_tokens(self.tokens)} tok")
        parts.append(f"${self.cost_usd:.4f}" + ("+?" if self.unpriced else ""))
        if self.errors:
            parts.append(f"{self.errors} err")
        return " · ".join(parts)


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)


class RunProgress:
    """Context manager around `rich.progress.Progress`; a silent tally when disabled."""

    def __init__(
        self,
        total: int,
        *,
        console: Console | None = None,
        enabled: bool = True,
        already: Iterable[GaiaResult] = (),
    ) -> None:
        self.tally = RunTally()
        for result in already:
            self.tally.add(result)
        self._total = total
        self._progress: Progress | None = None
        self._task_id: TaskID | None = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]GAIA"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.__enter__()
            self._task_id = self._progress.add_task(
                "gaia", total=self._total, completed=self.tally.done, stats=self.tally.describe()
            )
        return self

    def advance(self, result: GaiaResult) -> None:
        self.tally.add(result)
        if self._progress is not None and self._task_id is not None:
            self._progress.update(self._task_id, advance=1, stats=self.tally.describe())

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
