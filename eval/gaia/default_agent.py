"""Omne's default GAIA agent: the Reactive Responder with web search, the browser, the file reader and the
logic expert, on the configured models. Loaded by name (`DEFAULT_AGENT_FACTORY`) like any other factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import AgentFactoryError
from .factory import MeteredAgent, RunLimits
from .task import GaiaAgentTask

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from omne_core.config import OmneSettings
    from omne_core.models.usage import UsageLedger

_SHARED_LOCAL: dict[str, ChatCompletionClient] = {}  # embedded llama.cpp clients, one GGUF load per process


@dataclass
class _Clients:
    """The model clients of one task, all recording into one ledger; `owned` are closed after the task."""

    ledger: UsageLedger
    main: ChatCompletionClient
    logic: ChatCompletionClient
    vision: ChatCompletionClient | None
    owned: list[ChatCompletionClient]


def _local_client(settings: OmneSettings, role_name: str, ledger: UsageLedger) -> ChatCompletionClient:
    """A per-task recording wrapper around a process-wide llama.cpp client (loading a GGUF per task is slow)."""
    from omne_core.config import ModelPrice
    from omne_core.models import UsageRecordingChatCompletionClient, build_inner_client, role_settings

    role = role_settings(settings, role_name)
    key = role.model_dump_json()
    if key not in _SHARED_LOCAL:
        _SHARED_LOCAL[key] = build_inner_client(role, settings, role_name=role_name)
    if ledger.price_for(role.model) is None:
        ledger.set_price(role.model, ModelPrice())  # an embedded model costs nothing per token
    return UsageRecordingChatCompletionClient(
        _SHARED_LOCAL[key], ledger, model=role.model, role=role_name, provider=role.provider.value
    )


def _task_clients(settings: OmneSettings) -> _Clients:
    """Clients for `main`, `logic_expert` and `vision`. $OMNE_MODEL_COMPONENT (any AutoGen client, e.g. a
    scripted one) plays every role; a logic expert left on the embedded default while `main` is a hosted
    model uses `main` instead of a 270M local model."""
    from omne_assistant.clients import load_component_client
    from omne_core.config import ModelProvider
    from omne_core.models import UsageLedger, UsageRecordingChatCompletionClient, create_role_client

    ledger = UsageLedger.from_settings(settings)
    component = settings.model_component
    if component is not None:
        inner = load_component_client(component)
        shared = UsageRecordingChatCompletionClient(inner, ledger, model=settings.models.main.model, role="main")
        return _Clients(ledger, shared, shared, None, [shared])
    owned: list[ChatCompletionClient] = []

    def client(role_name: str) -> ChatCompletionClient:
        if getattr(settings.models, role_name).provider is ModelProvider.LLAMACPP:
            return _local_client(settings, role_name, ledger)
        made = create_role_client(settings, role_name, usage=ledger)
        owned.append(made)
        return made

    models = settings.models
    main = client("main")
    local_logic = models.logic_expert.provider is ModelProvider.LLAMACPP
    logic = main if local_logic and models.main.provider is not ModelProvider.LLAMACPP else client("logic_expert")
    vision = client("vision") if models.vision is not None else None
    return _Clients(ledger, main, logic, vision, owned)


async def reactive_responder_factory(
    task: GaiaAgentTask, settings: OmneSettings, *, limits: RunLimits | None = None
) -> MeteredAgent:
    """Omne's Reactive Responder on the configured `main` model, with web search, the browser, the logic
    expert and a file reader allowed to read this task's attachment (not its folder); budgets just inside `limits`."""
    try:
        from omne_assistant import ReactiveResponder, TaskBudget
    except ImportError as exc:
        raise AgentFactoryError(
            f"the Reactive Responder (omne_assistant) cannot be imported ({exc}); name another factory with --agent"
        ) from exc
    from omne_tools import build_toolset

    clients = _task_clients(settings)
    # The browser may not open file:// URLs whatever the settings say: the task's attachment is its only file.
    settings = settings.model_copy(update={"web": settings.web.model_copy(update={"allow_file_urls": False})})
    tools = build_toolset(
        settings, model_client=clients.main, logic_client=clients.logic, file_roots=task.file_roots,
        vision_client=clients.vision,
    )  # fmt: skip
    budget = TaskBudget()
    if limits is not None:  # stop on its own, with an answer, before the runner has to cut it off
        budget = TaskBudget(max_seconds=limits.time_limit_s * 0.9, max_tokens=max(1, int(limits.max_tokens * 0.9)))
    agent = ReactiveResponder("gaia_solver", clients.main, tools, budget=budget)

    async def close_clients() -> None:
        for client in clients.owned:
            await client.close()

    return MeteredAgent(agent=agent, ledger=clients.ledger, on_close=close_clients)
