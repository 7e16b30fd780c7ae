"""Omne Assistant: memory-backed AutoGen agents — the Simple Responder (chat) and the Reactive Responder (tasks)."""

from .budget import TaskBudget
from .faults import ModelFaultError, ModelFaultKind, RetryPolicy
from .planning import AnswerCheck, Lesson, Replan, TaskAnalysis, TaskPlan
from .reactive import ReactiveResponder, ReactiveResult, StepRecord

__all__ = [
    "AnswerCheck",
    "Lesson",
    "ModelFaultError",
    "ModelFaultKind",
    "ReactiveResponder",
    "ReactiveResult",
    "Replan",
    "RetryPolicy",
    "StepRecord",
    "TaskAnalysis",
    "TaskBudget",
    "TaskPlan",
]
