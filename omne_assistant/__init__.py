"""Omne Assistant: memory-backed AutoGen agents — the Simple Responder (chat) and the Reactive Responder (tasks)."""

from .access import MemoryAccess, TeamMemory
from .budget import TaskBudget
from .faults import ModelFaultError, ModelFaultKind, RetryPolicy
from .planning import AnswerCheck, Lesson, Replan, TaskAnalysis, TaskPlan
from .reactive import ReactiveResponder, ReactiveResult, StepRecord
from .simple import ReflectionReport, SimpleResponder

__all__ = [
    "AnswerCheck",
    "Lesson",
    "MemoryAccess",
    "ModelFaultError",
    "ModelFaultKind",
    "ReactiveResponder",
    "ReactiveResult",
    "ReflectionReport",
    "Replan",
    "RetryPolicy",
    "SimpleResponder",
    "StepRecord",
    "TaskAnalysis",
    "TaskBudget",
    "TaskPlan",
    "TeamMemory",
]
