"""Typed plans of the Reactive Responder: task analysis, numbered steps, re-plans and answer checks."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TaskAnalysis(BaseModel):
    """What the task asks, the constraints an answer must meet, and the expected answer format."""

    asked: str = Field(description="What exactly is asked, in one sentence.")
    constraints: list[str] = Field(default_factory=list, description="Conditions the answer must satisfy.")
    answer_format: str = Field(default="a short answer", description="The form of the final answer.")


class TaskPlan(BaseModel):
    """An analysis and the numbered steps that should answer the task."""

    analysis: TaskAnalysis
    steps: list[str] = Field(min_length=1, description="Ordered steps, each one action.")

    def numbered(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, 1))


class Replan(BaseModel):
    """A revised list of remaining steps after a failure or a stall, and why."""

    reason: str = Field(description="Why the previous plan is changed.")
    steps: list[str] = Field(min_length=1, description="The remaining steps, in order.")

    def numbered(self) -> str:
        return "\n".join(f"{i}. {step}" for i, step in enumerate(self.steps, 1))


class AnswerCheck(BaseModel):
    """The verdict on a candidate answer against the analysis' constraints and format."""

    satisfies: bool
    problems: list[str] = Field(default_factory=list)
    final_answer: str = Field(description="The answer, reformatted to the required format.")


class Lesson(BaseModel):
    """The self-evolution note kept after a task: what worked, what failed, and what to do next time."""

    worked: str = ""
    failed: str = ""
    lesson: str


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
