"""Typed plans of the Reactive Responder: task analysis, numbered steps, re-plans and answer checks."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

# Bounds of every structured answer: a constrained small model always finishes, a rambling one is sent back.
SHORT = 300  # characters of a one-line field
LONG = 600  # characters of a free-text field
MAX_STEPS = 10
MAX_ITEMS = 8


class TaskAnalysis(BaseModel):
    """What the task asks, the constraints an answer must meet, and the expected answer format."""

    asked: str = Field(min_length=1, max_length=SHORT, description="What exactly is asked, in one sentence.")
    constraints: list[Annotated[str, Field(max_length=SHORT)]] = Field(
        max_length=MAX_ITEMS, description="Conditions the answer must satisfy."
    )
    answer_format: str = Field(max_length=SHORT, description="The form of the final answer.")


class TaskPlan(BaseModel):
    """An analysis and the numbered steps that should answer the task."""

    analysis: TaskAnalysis
    steps: list[Annotated[str, Field(min_length=1, max_length=SHORT)]] = Field(
        min_length=1, max_length=MAX_STEPS, description="Ordered steps, each one action."
    )

    def numbered(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, 1))


class Replan(BaseModel):
    """A revised list of remaining steps after a failure or a stall, and why."""

    reason: str = Field(max_length=SHORT, description="Why the previous plan is changed.")
    steps: list[Annotated[str, Field(min_length=1, max_length=SHORT)]] = Field(
        min_length=1, max_length=MAX_STEPS, description="The remaining steps, in order."
    )

    def numbered(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, 1))


class AnswerCheck(BaseModel):
    """The verdict on a candidate answer against the analysis' constraints and format."""

    satisfies: bool
    problems: list[Annotated[str, Field(max_length=SHORT)]] = Field(max_length=MAX_ITEMS)
    final_answer: str = Field(max_length=LONG, description="The answer, reformatted to the required format.")


class Lesson(BaseModel):
    """The self-evolution note kept after a task: what worked, what failed, and what to do next time."""

    worked: str = Field(max_length=LONG)
    failed: str = Field(max_length=LONG)
    lesson: str = Field(min_length=1, max_length=LONG)


PLAN_SYSTEM = """You are the planner of a careful assistant that solves tasks step by step with tools.
First analyse the task: what is asked, the constraints any answer must meet, and the answer format.
Then write a short numbered plan; each step is one action (a tool call or a reasoning step).
Use the lessons from past experiences when they apply."""

ACT_SYSTEM = """You are a careful assistant solving a task with tools, following a plan.
At each step call the tool the plan needs, or reason briefly. Observe every tool result: when a step
fails, try another way instead of repeating it. When you know the answer, reply with one line:
FINAL ANSWER: <the answer in the required format>"""

CHECK_SYSTEM = """You check a candidate answer against the task's constraints and the required answer format.
Say whether it satisfies them, list the problems, and give the answer reformatted to the required format."""

LESSON_SYSTEM = """You write the lesson a problem solver keeps after a task, for similar tasks later:
what worked, what failed, and one concrete lesson."""
