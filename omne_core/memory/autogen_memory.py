"""`OmneMemory`: Omne's store as an AutoGen `Memory` component, usable in any `AssistantAgent(memory=[...])`.

A drop-in for `ListMemory` and `ChromaDBVectorMemory` (docs/ARCHITECTURE.md, "OmneMemory"):

- `add` stores text, markdown, JSON, bytes and images in the write scope; `query` gives them back as they went in,
  with the user's metadata as given and Omne's own fields under `metadata["omne"]` (`memory_content.py`).
- `query` searches the read scopes (hybrid: dense + BM25). `score_threshold` (config or per query) keeps results
  whose cosine similarity to the query reaches it: an absolute score, as in `ChromaDBVectorMemory`.
- `clear` hard-deletes exactly the records `query` reads: the read scopes and kinds, old versions included.
- `update_context` searches with the latest message and puts ONE system message with the best records (under a
  token budget) into the model context, replacing the one it added on the previous turn; records whose text a
  message of the context already holds are left out.
- `dump_component` carries the store (`StoreConfig`): a loaded memory opens the same store.
"""

from __future__ import annotations

import asyncio
from typing import Any, Self

from autogen_core import CancellationToken, Component
from autogen_core.memory import Memory, MemoryContent, MemoryQueryResult, UpdateContextResult
from autogen_core.model_context import ChatCompletionContext
from autogen_core.models import FunctionExecutionResultMessage, LLMMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ConfigurationError, StoreNotOpenError
from ..records import MemoryKind, MemoryScope
from .context import build_context
from .errors import MemoryValidationError, validation_problems
from .memory_content import query_text, to_content, to_record
from .metadata_filter import MetadataConditions, MetadataFilter
from .results import SearchHit
from .store_access import MemoryStoreAPI, open_store
from .store_config import AnyStoreConfig, ServerStoreConfig, StoreConfig

MEMORY_MESSAGE_HEADER = "Relevant long-term memories (Omne memory, most relevant first):"
_CLEAR_BATCH = 1000  # records hard-deleted per transaction by `clear`

class OmneMemoryConfig(BaseModel):
    """Serializable configuration of `OmneMemory`; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")

    user_id: str
    agent_id: str | None = None
    session_id: str | None = None
    namespace: str | None = None
    read_scopes: list[MemoryScope] | None = None  # default: this user/agent/namespace across sessions
    kinds: list[MemoryKind] | None = None  # kinds retrieved (None: all)
    k: int = Field(default=8, ge=1, le=100)  # results per query
    score_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)  # min cosine similarity (None: no minimum)
    max_tokens: int = Field(default=1500, ge=1)  # budget of the memory message `update_context` adds
    add_kind: MemoryKind = MemoryKind.OBSERVATION  # kind of added records (metadata["omne"]["kind"] overrides)
    store: AnyStoreConfig | None = None  # the store (None: the one the environment's settings name where it runs)
    # A long-lived agent: a re-embedding after a change of embedder runs behind the store it opens (`MemoryStore.open`);
    # queries meanwhile find the records not yet embedded by their words only.
    reembed_in_background: bool = False


class QueryOptions(BaseModel):
    """What `OmneMemory.query` takes besides the query; unknown options are rejected."""

    model_config = ConfigDict(extra="forbid")

    k: int | None = Field(default=None, ge=1, le=1000)
    kinds: list[MemoryKind] | None = None
    score_threshold: float | None = Field(default=None, ge=-1.0, le=1.0)
    metadata: MetadataConditions | None = None  # only records whose metadata holds these values


def _message_text(message: LLMMessage) -> str:
    if isinstance(message, FunctionExecutionResultMessage):
        return "\n".join(r.content for r in message.content)
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part for part in content if isinstance(part, str))
    return ""


def _as_recorded(message: LLMMessage) -> tuple[str, ...]:
    """A message's text as a record of it would hold it (whitespace collapsed): bare (`record_conversation`), and
    after its speaker ("alice: ...", as `SimpleResponder` records a turn)."""
    text = " ".join(_message_text(message).split())
    source = getattr(message, "source", None)
    return (text, f"{source}: {text}") if isinstance(source, str) and source else (text,)


def _is_memory_message(message: Any) -> bool:
    if isinstance(message, dict):
        return message.get("type") == "SystemMessage" and str(message.get("content", "")).startswith(MEMORY_MESSAGE_HEADER)
    return isinstance(message, SystemMessage) and message.content.startswith(MEMORY_MESSAGE_HEADER)


class OmneMemory(Memory, Component[OmneMemoryConfig]):
    """Long-term memory for an AutoGen agent: scoped, hybrid-searched, token-budgeted into the context.

    Example: `AssistantAgent("assistant", model_client, memory=[OmneMemory(user_id="alice")])`. `store=` is either
    an open store (a `MemoryStore` or anything with its public API), used and left open, or a `StoreConfig` naming
    the store to open on first use; without it, the environment's settings name the store.
    """

    component_type = "memory"
    component_config_schema = OmneMemoryConfig
    component_provider_override = "omne_core.memory.OmneMemory"

    def __init__(
        self,
        user_id: str | None = None,
        *,
        config: OmneMemoryConfig | None = None,
        store: MemoryStoreAPI | StoreConfig | ServerStoreConfig | None = None,
        **options: Any,
    ) -> None:
        if isinstance(store, StoreConfig | ServerStoreConfig):  # the store to open on first use, as in a config
            options["store"], store = store, None
        if config is None:
            if user_id is None:
                raise ConfigurationError("OmneMemory needs a user_id")
            try:
                config = OmneMemoryConfig(user_id=user_id, **options)
            except ValidationError as exc:
                raise ConfigurationError(f"invalid OmneMemory options: {validation_problems(exc)}") from None
        elif user_id is not None or options:
            raise ConfigurationError("give OmneMemory either a config or user_id and options, not both")
        if store is not None:
            if config.store is not None:
                raise ConfigurationError("give OmneMemory either store= or a config with a store section, not both")
            config = config.model_copy(update={"store": store.open_config()})
        self._config = config
        self._store = store
        self._owns_store = store is None
        self._open_lock = asyncio.Lock()

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

    @property
    def _actor(self) -> str:
        return self._config.agent_id or "agent"

    async def get_store(self) -> MemoryStoreAPI:
        """The store: the one given, else opened on first use from the config's store section."""
        if self._store is not None and self._store.is_open:
            return self._store
        if not self._owns_store:
            raise StoreNotOpenError("the store given to this OmneMemory is closed (it opens only stores it was not given)")
        async with self._open_lock:
            if self._store is None or not self._store.is_open:
                self._store = await open_store(self._config.store, reembed_in_background=self._config.reembed_in_background)
        return self._store

    # -- Memory protocol -----------------------------------------------------------------------
    async def add(self, content: MemoryContent, cancellation_token: CancellationToken | None = None) -> None:
        """Store text, markdown, JSON, bytes or an image in the write scope (`metadata["omne"]`: Omne's options)."""
        store = await self.get_store()
        record = await to_record(content, self.write_scope, self._config.add_kind, store.blobs)
        await store.add(record, actor=self._actor)

    async def query(
        self,
        query: str | MemoryContent,
        cancellation_token: CancellationToken | None = None,
        **kwargs: Any,
    ) -> MemoryQueryResult:
        """The best `k` records of the read scopes, as they were added. Options: `k`, `kinds` (narrows the memory's
        own kinds, never widens them), `score_threshold` (None: no minimum), `metadata` (only records whose
        metadata holds these values, e.g. those added with `MemoryContent(metadata={"project": "apollo"})`). An
        empty query lists the newest `k` records, as `ListMemory` lists its contents."""
        try:
            options = QueryOptions.model_validate(kwargs)
        except ValidationError as exc:
            raise MemoryValidationError(f"invalid OmneMemory.query options: {validation_problems(exc)}") from None
        text = query_text(query)
        store = await self.get_store()
        k, kinds = options.k or self._config.k, self._config.kinds
        if options.kinds is not None:
            kinds = [kind for kind in options.kinds if kinds is None or kind in kinds]
            if not kinds:
                return MemoryQueryResult(results=[])
        if not text.strip():
            records = await store.list(self.read_scopes, kinds=kinds, limit=k, metadata=options.metadata)
            return MemoryQueryResult(results=[await to_content(r, store.blobs) for r in records])
        given = "score_threshold" in options.model_fields_set  # an explicit None: no minimum for this query
        threshold = options.score_threshold if given else self._config.score_threshold
        hits = await self._search(text, k, kinds, threshold, options.metadata)
        return MemoryQueryResult(results=[await to_content(h, store.blobs) for h in hits])

    async def _search(
        self, text: str, k: int, kinds: list[MemoryKind] | None, threshold: float | None,
        metadata: MetadataFilter | None = None,
    ) -> list[SearchHit]:
        store = await self.get_store()
        return await store.search(text, self.read_scopes, kinds=kinds, limit=k, min_similarity=threshold, metadata=metadata)

    async def update_context(self, model_context: ChatCompletionContext) -> UpdateContextResult:
        """Replace the previous Omne memory message with one built for the latest message. A record whose text a
        message of the context already holds (the conversation recorded as it goes) is left out: it would only
        take a slot twice."""
        messages = [m for m in await model_context.get_messages() if not _is_memory_message(m)]
        query = next((t for m in reversed(messages) if (t := _message_text(m).strip())), "")
        held = {said for m in messages for said in _as_recorded(m)} - {""}
        c = self._config
        hits = await self._search(query, c.k + min(len(held), c.k), c.kinds, c.score_threshold) if query else []
        hits = [h for h in hits if " ".join(h.record.text.split()) not in held][: c.k]
        context = build_context(hits, c.max_tokens, header=MEMORY_MESSAGE_HEADER)
        await _drop_memory_messages(model_context)
        if not context.text:
            return UpdateContextResult(memories=MemoryQueryResult(results=[]))
        await model_context.add_message(SystemMessage(content=context.text))
        shown = set(context.record_ids)
        store = await self.get_store()
        return UpdateContextResult(
            memories=MemoryQueryResult(results=[await to_content(h, store.blobs) for h in hits if h.record.id in shown])
        )

    async def clear(self) -> None:
        """Hard-delete exactly what `query` reads: every record of the read scopes and kinds, old versions and
        soft-deleted records included. Records outside them (other users, agents, namespaces) are not touched."""
        store = await self.get_store()
        records = await store.list(self.read_scopes, kinds=self._config.kinds, include_inactive=True, limit=None)
        for start in range(0, len(records), _CLEAR_BATCH):
            batch = records[start : start + _CLEAR_BATCH]
            await store.delete_many([r.id for r in batch], hard=True, actor=self._actor)

    async def close(self) -> None:
        """Close the store if this memory opened it (a store given to it stays open)."""
        if self._store is not None and self._owns_store:
            await self._store.close()
            self._store = None

    # -- component -----------------------------------------------------------------------------
    def _to_config(self) -> OmneMemoryConfig:
        store = self._config.store
        return self._config.model_copy(update={"store": store.without_secrets() if store else None}, deep=True)

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
