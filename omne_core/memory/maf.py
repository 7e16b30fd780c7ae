"""Omne memory for Microsoft Agent Framework (AutoGen's successor): `OmneContextProvider`.

Before a run it searches the read scopes with the new input and puts the best memories (under a token budget)
into the context; after the run it records the turn — the input and the agent's reply — as L0 `message`
records in the write scope. Reading and writing are kept apart: a team's shared scope can inform an agent
that writes only to its user's private one. Works on any store (`MemoryStore`, `RemoteMemoryStore`).

Needs the `maf` extra (`agent-framework-core`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import AgentSession, ContextProvider, Message, SessionContext

from ..records import MemoryKind, MemoryRecord, MemoryScope
from .context import build_context
from .errors import MemoryValidationError
from .metadata_filter import MetadataFilter, normalize_metadata
from .store_access import MemoryStoreAPI

MEMORY_HEADER = "Relevant long-term memories (Omne memory, most relevant first):"
_RECORDED_ROLES = {"user", "assistant"}


class OmneContextProvider(ContextProvider):
    """Injects relevant memories before each run and records the turn after it.

    `read_scopes` are searched (default: the write scope's user, agent and namespace across sessions); new
    records go to `write_scope` only — with the run's session id when the write scope names none. `metadata`:
    only memories whose metadata holds these values are injected (`MemoryStore.search`).
    """

    def __init__(
        self,
        store: MemoryStoreAPI,
        write_scope: MemoryScope,
        *,
        read_scopes: Sequence[MemoryScope] | None = None,
        k: int = 8,
        max_tokens: int = 1500,
        kinds: Sequence[MemoryKind] | None = None,
        record_turns: bool = True,
        source_id: str = "omne_memory",
        metadata: MetadataFilter | None = None,
    ) -> None:
        super().__init__(source_id)
        if not isinstance(write_scope, MemoryScope):
            raise MemoryValidationError("write_scope must be a MemoryScope")
        if read_scopes is not None and (not read_scopes or not all(isinstance(s, MemoryScope) for s in read_scopes)):
            raise MemoryValidationError("read_scopes must be a non-empty list of MemoryScope")
        if k < 1 or max_tokens < 1:
            raise MemoryValidationError("k and max_tokens must be positive")
        self.store = store
        self.write_scope = write_scope
        self.read_scopes = list(read_scopes) if read_scopes is not None else [
            write_scope.model_copy(update={"session_id": None})
        ]  # fmt: skip
        self.k, self.max_tokens = k, max_tokens
        self.kinds = list(kinds) if kinds is not None else None
        self.record_turns = record_turns
        normalize_metadata(metadata)  # a bad condition fails here, not at the first run
        self.metadata_filter = dict(metadata) if metadata is not None else None

    async def before_run(
        self, *, agent: Any, session: AgentSession, context: SessionContext, state: dict[str, Any]
    ) -> None:
        """Search the read scopes with the new input; add one message with the memories that fit the budget."""
        query = _text(context.input_messages)
        state["memory_ids"] = []
        if not query:
            return
        hits = await self.store.search(query, self.read_scopes, kinds=self.kinds, limit=self.k, metadata=self.metadata_filter)
        memory = build_context(hits, self.max_tokens, header=MEMORY_HEADER)
        if memory.text:
            context.extend_messages(self, [Message(role="user", contents=[memory.text])])
            state["memory_ids"] = list(memory.record_ids)

    async def after_run(
        self, *, agent: Any, session: AgentSession, context: SessionContext, state: dict[str, Any]
    ) -> None:
        """Record the input and the reply as `message` records of the write scope."""
        if not self.record_turns:
            return
        scope = self.write_scope
        if scope.session_id is None and session is not None and session.session_id:
            scope = scope.model_copy(update={"session_id": session.session_id})
        replies = list(context.response.messages) if context.response is not None else []
        speaker = getattr(agent, "name", None) or "assistant"
        records = [
            MemoryRecord(
                kind=MemoryKind.MESSAGE, text=text, scope=scope,
                metadata={"speaker": message.author_name or (speaker if message.role == "assistant" else "user"),
                          "role": str(message.role), **({"source_ref": message.message_id} if message.message_id else {})},
            )
            for message in [*context.input_messages, *replies]
            if str(message.role) in _RECORDED_ROLES and (text := (message.text or "").strip())
        ]  # fmt: skip
        if records:
            await self.store.add(records, actor=f"maf:{speaker}")


def _text(messages: Sequence[Message]) -> str:
    return "\n".join(text for m in messages if str(m.role) == "user" and (text := (m.text or "").strip()))
