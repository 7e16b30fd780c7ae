"""Record an AutoGen conversation (a team's or an agent's messages) into memory as L0 `message` records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseChatMessage

from .errors import MemoryValidationError
from .record import MemoryKind, MemoryRecord, MemoryScope
from .store import MemoryStore

if TYPE_CHECKING:
    from .autogen_memory import OmneMemory


def conversation_records(messages: TaskResult | Sequence[Any], scope: MemoryScope) -> list[MemoryRecord]:
    """One L0 `message` record per chat message (events such as tool calls are skipped); speaker in metadata."""
    items = messages.messages if isinstance(messages, TaskResult) else messages
    records = []
    for message in items:
        if not isinstance(message, BaseChatMessage):
            continue
        text = message.to_text().strip()
        if not text:
            continue
        records.append(
            MemoryRecord(
                kind=MemoryKind.MESSAGE,
                text=text,
                scope=scope,
                event_time=message.created_at,
                metadata={"speaker": message.source, "message_type": message.type, "source_ref": message.id},
            )
        )
    return records


async def record_conversation(
    target: MemoryStore | OmneMemory,
    messages: TaskResult | Sequence[Any],
    scope: MemoryScope | None = None,
    *,
    actor: str = "conversation",
) -> list[MemoryRecord]:
    """Store a conversation's chat messages; re-recording the same messages adds nothing new."""
    from .autogen_memory import OmneMemory

    if isinstance(target, OmneMemory):
        scope = scope or target.write_scope
        store = await target.get_store()
    elif isinstance(target, MemoryStore):
        store = target
    else:
        raise MemoryValidationError(f"expected a MemoryStore or OmneMemory, got {type(target).__name__}")
    if scope is None:
        raise MemoryValidationError("a scope is required to record a conversation into a MemoryStore")
    records = conversation_records(messages, scope)
    return await store.add(records, actor=actor) if records else []
