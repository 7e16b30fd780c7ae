"""The agent-factory contract: how the runner gets a fresh AutoGen agent for each GAIA task.

A factory is any callable `(task: GaiaAgentTask, settings: OmneSettings) -> agent`, sync or async, named
on the command line as `module:function`. It may also take a keyword `limits: RunLimits` to size the
agent's own budgets. The agent is an AutoGen `ChatAgent` (or any `TaskRunner`, e.g. a team); a factory
may instead return a `MeteredAgent` whose `UsageLedger` records every model call for exact token and cost
accounting (otherwise the runner sums `models_usage` of the agent's messages).

This module knows no agent: Omne's own (the Reactive Responder) is in `default_agent`, which the runner
never imports; it is loaded by name like any other factory.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from autogen_agentchat.base import TaskRunner
from pydantic import BaseModel, Field

from .errors import AgentFactoryError
from .task import GaiaAgentTask

if TYPE_CHECKING:
    from omne_core.config import OmneSettings
    from omne_core.models.usage import UsageLedger

DEFAULT_AGENT_FACTORY = "omne_eval.gaia.default_agent:reactive_responder_factory"


class RunLimits(BaseModel):
    """Per-task limits. A step is one message or event the agent emits (tool calls, thoughts, replies)."""

    time_limit_s: float = Field(default=600.0, gt=0)
    max_steps: int = Field(default=60, ge=1)
    max_tokens: int = Field(default=500_000, ge=1)
    follow_up: bool = True  # ask once for the FINAL ANSWER template when a long reply lacks it
    cancel_grace_s: float = Field(default=5.0, ge=0)  # how long a cancelled agent may take to stop


@dataclass
class MeteredAgent:
    """An agent with the ledger its model clients record into (tokens and cost per model).

    `on_close` releases what the factory opened for this agent (model clients), after `agent.close()`.
    """

    agent: TaskRunner
    ledger: UsageLedger | None = None
    on_close: Callable[[], Awaitable[None]] | None = None


AgentLike: TypeAlias = TaskRunner | MeteredAgent


class PlainAgentFactory(Protocol):
    """`(task, settings) -> agent`, sync or async."""

    def __call__(self, task: GaiaAgentTask, settings: OmneSettings, /) -> AgentLike | Awaitable[AgentLike]: ...


class LimitedAgentFactory(Protocol):
    """`(task, settings, *, limits) -> agent`: a factory that sizes its agent's budgets to the run's limits."""

    def __call__(
        self, task: GaiaAgentTask, settings: OmneSettings, /, *, limits: RunLimits
    ) -> AgentLike | Awaitable[AgentLike]: ...


AgentFactory: TypeAlias = PlainAgentFactory | LimitedAgentFactory


def load_agent_factory(spec: str, *, search_dir: str | Path | None = None) -> AgentFactory:
    """Import `module:function` (e.g. `my_pkg.agents:make_agent`) and check it is callable.

    `search_dir` (the CLI passes the current directory) is put first on `sys.path` when it is not there
    yet, as `python -m` does, so a factory module beside the user's files imports.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AgentFactoryError(f"agent factory must be 'module:function', got {spec!r}")
    if search_dir is not None:
        folder = str(Path(search_dir).resolve())
        if folder not in (str(Path(p).resolve()) for p in sys.path if p):
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentFactoryError(f"cannot import agent factory module {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise AgentFactoryError(f"{module_name!r} has no attribute {attr!r}") from exc
    if not callable(target):
        raise AgentFactoryError(f"{spec} is not callable")
    return target  # type: ignore[no-any-return]


def factory_name(factory: object) -> str:
    """`module:qualname` of a factory (what `load_agent_factory` takes back when it is importable)."""
    module = getattr(factory, "__module__", None) or type(factory).__module__
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}:{name}"


def _accepts_limits(factory: AgentFactory) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "limits" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


async def build_agent(
    factory: AgentFactory, task: GaiaAgentTask, settings: OmneSettings, limits: RunLimits
) -> MeteredAgent:
    """Call `factory` for `task` and check it returned something the runner can run."""
    if _accepts_limits(factory):
        made = factory(task, settings, limits=limits)  # type: ignore[call-arg]
    else:
        made = factory(task, settings)  # type: ignore[call-arg]
    if inspect.isawaitable(made):
        made = await made
    if isinstance(made, MeteredAgent):
        return made
    if not callable(getattr(made, "run_stream", None)):
        raise AgentFactoryError(
            f"the agent factory returned {type(made).__name__}, not an AutoGen ChatAgent/TaskRunner or MeteredAgent"
        )
    return MeteredAgent(agent=made)
