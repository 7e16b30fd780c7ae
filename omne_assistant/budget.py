"""Task budgets: steps, wall-clock time and tokens, checked before every step of a task."""

from __future__ import annotations

import time

from autogen_core.models import CreateResult
from pydantic import BaseModel, Field


class TaskBudget(BaseModel):
    """Limits of one task. A step is one act-phase model call (with the tool calls it requests)."""

    max_steps: int = Field(default=15, ge=1)
    max_seconds: float = Field(default=600.0, gt=0)
    max_tokens: int = Field(default=100_000, ge=1)
    max_replans: int = Field(default=3, ge=0)


class BudgetMeter:
    """What a running task has spent; `exhausted()` names the first limit reached, if any."""

    def __init__(self, budget: TaskBudget) -> None:
        self.budget = budget
        self.started = time.monotonic()
        self.deadline = self.started + budget.max_seconds
        self.steps = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.replans = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def charge(self, result: CreateResult) -> None:
        self.prompt_tokens += result.usage.prompt_tokens
        self.completion_tokens += result.usage.completion_tokens

    def exhausted(self) -> str | None:
        if self.steps >= self.budget.max_steps:
            return f"step budget of {self.budget.max_steps} steps reached"
        if self.tokens >= self.budget.max_tokens:
            return f"token budget of {self.budget.max_tokens} tokens reached ({self.tokens} used)"
        if time.monotonic() >= self.deadline:
            return f"time budget of {self.budget.max_seconds:g} s reached"
        return None
