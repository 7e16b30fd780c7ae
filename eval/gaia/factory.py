"""Agent factories: how the runner gets a fresh AutoGen agent for each GAIA task.

A factory is any callable `(task: GaiaAgentTask, settings: OmneSettings) -> agent`, sync or async, named
on the command line as `module:function`. It may also take a keyword `limits: RunLimits` to size the
agent's own budgets. The agent is an AutoGen `ChatAgent` (or any `TaskRunner`, e.g. a team); a factory
may instead return a `MeteredAgent` whose `UsageLedger` records every model call for exact token and cost
accounting (otherwise the runner sums `models_usage` of the agent's messages).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from autogen_agentchat.base import TaskRunner

from .errors import AgentFactoryError
from .task import GaiaAgentTask

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from omne_core.config import OmneSettings
    from omne_core.models.usage import UsageLedger

    from .runner import RunLimits

DEFAULT_AGENT_FACTORY = "eval.gaia.factory:reactive_responder_factory"


@dataclass
class MeteredAgent:
    """An agent with the ledger its model clients record into (tokens and cost per model).

    `on_close` releases what the factory opened for this agent (model clients), after `agent.close()`.
    """

    agent: TaskRunner
    ledger: UsageLedger | None = None
    on_close: Callable[[], Awaitable[None]] | None = None


AgentLike: TypeAlias = TaskRunner | MeteredAgent
AgentFactory: TypeAlias = Callable[..., AgentLike | Awaitable[AgentLike]]


def load_agent_factory(spec: str) -> AgentFactory:
    """Import `module:function` (e.g. `my_pkg.agents:make_agent`) and check it is callable."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AgentFactoryError(f"agent factory must be 'module:function', got {spec!r}")
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
    return target


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
    made = factory(task, settings, limits=limits) if _accepts_limits(factory) else factory(task, settings)
    if inspect.isawaitable(made):
        made = await made
    if isinstance(made, MeteredAgent):
        return made
    if not callable(getattr(made, "run_stream", None)):
        raise AgentFactoryError(
            f"the agent factory returned {type(made).__name__}, not an AutoGen ChatAgent/TaskRunner or MeteredAgent"
        )
    return MeteredAgent(agent=made)


# -- the default: Omne's Reactive Responder with the four tools ----------------------------------------


def _role_client(settings: OmneSettings, role: str, ledger: UsageLedger) -> ChatCompletionClient:
    """The role's client recording into `ledger`; $OMNE_MODEL_COMPONENT (any AutoGen client) replaces it."""
    from omne_assistant.clients import MODEL_COMPONENT_ENV, load_component_client
    from omne_core.models import UsageRecordingChatCompletionClient, create_role_client

    component = os.environ.get(MODEL_COMPONENT_ENV)
    if component:  # one scripted or custom client plays every role
        model = getattr(settings.models, role).model
        return UsageRecordingChatCompletionClient(load_component_client(Path(component)), ledger, model=model, role=role)
    return create_role_client(settings, role, usage=ledger)


async def reactive_responder_factory(
    task: GaiaAgentTask, settings: OmneSettings, *, limits: RunLimits | None = None
) -> MeteredAgent:
    """Omne's Reactive Responder on the configured `main` model, with web search, the browser, the logic
    expert and a file reader allowed to read this task's attachment directory; budgets just inside `limits`."""
    try:
        from omne_assistant import ReactiveResponder, TaskBudget
    except ImportError as exc:
        raise AgentFactoryError(
            f"the Reactive Responder (omne_assistant) cannot be imported ({exc}); name another factory with --agent"
        ) from exc
    from omne_assistant.clients import MODEL_COMPONENT_ENV
    from omne_core.models import UsageLedger
    from tools import build_toolset

    ledger = UsageLedger.from_settings(settings)
    main = _role_client(settings, "main", ledger)
    shared_component = bool(os.environ.get(MODEL_COMPONENT_ENV))
    logic = main if shared_component else _role_client(settings, "logic_expert", ledger)
    vision = None if shared_component or settings.models.vision is None else _role_client(settings, "vision", ledger)
    roots = [task.attachment_root] if task.attachment_root is not None else []
    tools = build_toolset(settings, model_client=main, logic_client=logic, file_roots=roots, vision_client=vision)
    budget = TaskBudget()
    if limits is not None:  # stop on its own, with an answer, before the runner has to cut it off
        budget = TaskBudget(
            max_seconds=limits.time_limit_s * 0.9, max_tokens=max(1, int(limits.max_tokens * 0.9))
        )
    agent = ReactiveResponder("gaia_solver", main, tools, budget=budget)
    clients = [c for c in {id(c): c for c in (main, logic, vision) if c is not None}.values()]

    async def close_clients() -> None:
        for client in clients:
            await client.close()

    return MeteredAgent(agent=agent, ledger=ledger, on_close=close_clients)
