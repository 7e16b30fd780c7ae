"""`OmneMemory`: Omne's store as an AutoGen `Memory` component, usable in any `AssistantAgent(memory=[...])`.

`update_context` searches with the latest message and puts ONE system message with the best records
(under a token budget) into the model context, replacing the one it added on the previous turn.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import Any, Self

from autogen_core import CancellationToken, Component, Image
from autogen_core.memory import Memory, MemoryContent, MemoryMimeType, MemoryQueryResult, UpdateContextResult
from autogen_core.model_context import ChatCompletionContext
from autogen_core.models import FunctionExecutionResultMessage, LLMMessage, SystemMessage
from pydantic import BaseModel, Field

from ..config import load_settings
from .context import build_context
from .errors import MemoryValidationError
from .record import MemoryKind, MemoryRecord, MemoryScope, Modality
from .results import SearchHit
from .store import MemoryStore

MEMORY_MESSAGE_HEADER = "Relevant long-term memories (Omne memory, most relevant first):"


class OmneMemoryConfig(BaseModel):
    """Serializable configuration of `OmneMemory`."""

    user_id: str
    agent_id: str | None = None
    session_id: str | None = None
    namespace: str | None = None
    read_scopes: list[MemoryScope] | None = None  # default: this user/agent/namespace across sessions
    kinds: list[MemoryKind] | None = None  # kinds retrieved into the context (None: all)
    k: int = Field(default=8, ge=1, le=100)
    max_tokens: int = Field(default=1500, ge=1)
    add_kind: MemoryKind = MemoryKind.OBSERVATION  # kind of records created by `add` (metadata "kind" overrides)
    data_dir: str | None = None
    settings_overrides: dict[str, Any] = Field(default_factory=dict)  # e.g. {"chroma": {"mode": "http", "port": 8000}}


def _message_text(message: LLMMessage) -> str:
    if isinstance(message, FunctionExecutionResultMessage):
        return "\n".join(r.content for r in message.content)
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part for part in content if isinstance(part, str))
    return ""


def _is_memory_message(message: Any) -> bool:
    if isinstance(message, dict):
        return message.get("type") == "SystemMessage" and str(message.get("content", "")).startswith(MEMORY_MESSAGE_HEADER)
    return isinstance(message, SystemMessage) and message.content.startswith(MEMORY_MESSAGE_HEADER)


def _memory_content(hit: SearchHit) -> MemoryContent:
    record = hit.record
    return MemoryContent(
        content=record.text,
        mime_type=MemoryMimeType.TEXT,
        metadata={
            "id": record.id,
            "kind": record.kind.value,
            "score": round(hit.score, 6),
            "time": (record.event_time or record.created_at).isoformat(),
            "speaker": record.metadata.get("speaker"),
            "source_ids": list(record.source_ids),
            "reasons": list(hit.reasons),
        },
    )


class OmneMemory(Memory, Component[OmneMemoryConfig]):
    """Long-term memory for an AutoGen agent: scoped, hybrid-searched, token-budgeted into the context.

    Example: `AssistantAgent("assistant", model_client, memory=[OmneMemory(user_id="alice")])`.
    """

    component_type = "memory"
    component_config_schema = OmneMemoryConfig
    component_provider_override = "omne_core.memory.OmneMemory"

    def __init__(
        self,
        user_id: str | None = None,
        *,
        config: OmneMemoryConfig | None = None,
        store: MemoryStore | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            if user_id is None:
                raise MemoryValidationError("OmneMemory needs a user_id")
            config = OmneMemoryConfig(user_id=user_id, **options)
        self._config = config
        self._store = store
        self._owns_store = store is None
        self._open_lock: asyncio.Lock | None = None

    @property
    def config(self) -> OmneMemoryConfig:
        return self._config

    @property
    def write_scope(self) -> MemoryScope:
        c = self._config
        return MemoryScope(user_id=c.user_id, agent_id=c.agent_id, session_id=c.session_id, namespace=c.namespace)

    @property
    def read_scopes(self) -> list[MemoryScope]:
        c = self._config
        return c.read_scopes or [MemoryScope(user_id=c.user_id, agent_id=c.agent_id, namespace=c.namespace)]

    async def get_store(self) -> MemoryStore:
        """The underlying store, opened on first use from the configured settings."""
        if self._store is not None and self._store.is_open:
            return self._store
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._store is None or not self._store.is_open:
                overrides = dict(self._config.settings_overrides)
                if self._config.data_dir:
                    overrides["data_dir"] = self._config.data_dir
                self._store = await MemoryStore.open(load_settings(**overrides))
                self._owns_store = True
        return self._store

    # -- Memory protocol -----------------------------------------------------------------------
    async def add(self, content: MemoryContent, cancellation_token: CancellationToken | None = None) -> None:
        """Store a text, JSON, image or binary memory content in the write scope."""
        store = await self.get_store()
        await store.add(await self._to_record(store, content), actor=self._config.agent_id or "agent")

    async def _to_record(self, store: MemoryStore, content: MemoryContent) -> MemoryRecord:
        meta = dict(content.metadata or {})
        kind = MemoryKind(meta.pop("kind", self._config.add_kind))
        importance = float(meta.pop("importance", 0.5))
        mime = content.mime_type.value if isinstance(content.mime_type, MemoryMimeType) else str(content.mime_type)
        fields: dict[str, Any] = {"mime_type": mime}
        value = content.content
        if isinstance(value, Image):
            ref = await store.blobs.aput_bytes(base64.b64decode(value.to_base64()))
            fields.update(modality=Modality.IMAGE, blob_ref=ref, text=str(meta.pop("description", "image")))
        elif isinstance(value, bytes):
            ref = await store.blobs.aput_bytes(value)
            fields.update(modality=Modality.FILE, blob_ref=ref, text=str(meta.pop("description", "file")))
        elif isinstance(value, dict):
            fields.update(text=json.dumps(value, ensure_ascii=False, sort_keys=True), payload=value)
        else:
            fields.update(text=str(value))
        return MemoryRecord(kind=kind, scope=self.write_scope, importance=importance, metadata=meta, **fields)

    async def query(
        self,
        query: str | MemoryContent,
        cancellation_token: CancellationToken | None = None,
        **kwargs: Any,
    ) -> MemoryQueryResult:
        """Hybrid search over the read scopes; `k` and `kinds` may be overridden per call."""
        text = query if isinstance(query, str) else str(query.content)
        if not text.strip():
            return MemoryQueryResult(results=[])
        hits = await self._search(text, k=kwargs.get("k"), kinds=kwargs.get("kinds"))
        return MemoryQueryResult(results=[_memory_content(h) for h in hits])

    async def _search(self, text: str, k: int | None = None, kinds: Sequence[MemoryKind] | None = None) -> list[SearchHit]:
        store = await self.get_store()
        return await store.search(
            text, self.read_scopes, kinds=kinds or self._config.kinds, limit=k or self._config.k
        )

    async def update_context(self, model_context: ChatCompletionContext) -> UpdateContextResult:
        """Replace the previous Omne memory message with one built for the latest message."""
        messages = await model_context.get_messages()
        query = next(
            (t for m in reversed(messages) if not _is_memory_message(m) and (t := _message_text(m).strip())), ""
        )
        hits = await self._search(query) if query else []
        context = build_context(hits, self._config.max_tokens, header=MEMORY_MESSAGE_HEADER)
        await _drop_memory_messages(model_context)
        if not context.text:
            return UpdateContextResult(memories=MemoryQueryResult(results=[]))
        await model_context.add_message(SystemMessage(content=context.text))
        shown = set(context.record_ids)
        return UpdateContextResult(
            memories=MemoryQueryResult(results=[_memory_content(h) for h in hits if h.record.id in shown])
        )

    async def clear(self) -> None:
        """Hard-delete every record of the write scope."""
        store = await self.get_store()
        for record in await store.list(self.write_scope, include_inactive=True, limit=None):
            await store.delete(record.id, hard=True, actor=self._config.agent_id or "agent")

    async def close(self) -> None:
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None

    # -- component -----------------------------------------------------------------------------
    def _to_config(self) -> OmneMemoryConfig:
        return self._config.model_copy(deep=True)

    @classmethod
    def _from_config(cls, config: OmneMemoryConfig) -> Self:
        return cls(config=config)


async def _drop_memory_messages(model_context: ChatCompletionContext) -> None:
    """Remove Omne memory messages from the whole context (not only the visible window)."""
    state = dict(await model_context.save_state())
    kept = [m for m in state.get("messages", []) if not _is_memory_message(m)]
    if len(kept) != len(state.get("messages", [])):
        state["messages"] = kept
        await model_context.load_state(state)
