"""Record an AutoGen conversation (a team's or an agent's messages) into memory as L0 `message` records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseChatMessage, MultiModalMessage

from ..blobs import BlobStore
from .errors import MemoryValidationError
from .record import MemoryKind, MemoryRecord, MemoryScope
from .store import MemoryStore
from .store_access import MemoryStoreAPI

if TYPE_CHECKING:
    from .autogen_memory import OmneMemory


async def conversation_records(
    messages: TaskResult | Sequence[Any], scope: MemoryScope, blobs: BlobStore | None = None
) -> list[MemoryRecord]:
    """L0 `message` records of the chat messages (events such as tool calls are skipped); speaker in metadata.

    A text message is one record. A multimodal message is one record per part when `blobs` is given: images
    keep their bytes in the blob store (same bytes, one blob) with a text stand-in; without `blobs`, one text
    record as AutoGen renders it.
    """
    items = messages.messages if isinstance(messages, TaskResult) else messages
    records: list[MemoryRecord] = []
    for message in items:
        if not isinstance(message, BaseChatMessage):
            continue
        meta = {"speaker": message.source, "message_type": getattr(message, "type", type(message).__name__)}
        if isinstance(message, MultiModalMessage) and blobs is not None:
            parts = await _part_records(message, scope, blobs)
            records.extend(
                r.model_copy(update={"metadata": {**r.metadata, **meta, "source_ref": f"{message.id}#{i}"}})
                for i, r in enumerate(parts)
            )
            continue
        text = message.to_text().strip()
        if text:
            records.append(
                MemoryRecord(
                    kind=MemoryKind.MESSAGE,
                    text=text,
                    scope=scope,
                    event_time=message.created_at,
                    metadata={**meta, "source_ref": message.id},
                )
            )
    return records


async def _part_records(message: MultiModalMessage, scope: MemoryScope, blobs: BlobStore) -> list[MemoryRecord]:
    from ..messages import (  # messages builds on memory.record: import late
        from_chat_message,
        to_memory_records,
    )

    records = await to_memory_records(from_chat_message(message), scope, blobs)
    return [r for r in records if r.text.strip() or r.blob_ref]


async def record_conversation(
    target: MemoryStore | OmneMemory,
    messages: TaskResult | Sequence[Any],
    scope: MemoryScope | None = None,
    *,
    actor: str = "conversation",
) -> list[MemoryRecord]:
    """Store a conversation's chat messages; re-recording the same messages adds nothing new."""
    from .autogen_memory import OmneMemory

    store: MemoryStoreAPI
    if isinstance(target, OmneMemory):
        scope = scope or target.write_scope
        store = await target.get_store()
    elif isinstance(target, MemoryStore):
        store = target
    else:
        raise MemoryValidationError(f"expected a MemoryStore or OmneMemory, got {type(target).__name__}")
    if scope is None:
        raise MemoryValidationError("a scope is required to record a conversation into a MemoryStore")
    # Image parts keep their bytes in a local blob store; a store without one gets the messages as text.
    blobs = store.blobs if isinstance(store.blobs, BlobStore) else None
    records = await conversation_records(messages, scope, blobs)
    return await store.add(records, actor=actor) if records else []
