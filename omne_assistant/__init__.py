"""Omne Assistant: memory-backed AutoGen agents — the Simple Responder (chat) and the Reactive Responder (tasks).

Model faults and retries are omne_core's (`omne_core.models`), re-exported here for agent authors.
"""

from omne_core.models import ModelFaultError, ModelFaultKind, RetryPolicy

from .access import MemoryAccess, TeamMemory
from .budget import TaskBudget
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
