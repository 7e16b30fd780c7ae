"""Record an AutoGen conversation (a team's or an agent's messages) into a store as L0 `message` records.

The conversion itself (chat messages → records) is `omne_core.messages.memory.conversation_records`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from autogen_agentchat.base import TaskResult

from ..blobs import BlobStore
from ..messages.memory import conversation_records
from ..records import MemoryRecord, MemoryScope
from .errors import MemoryValidationError
from .store_access import MemoryStoreAPI

if TYPE_CHECKING:
    from .autogen_memory import OmneMemory


async def record_conversation(
    target: MemoryStoreAPI | OmneMemory,
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
    elif isinstance(target, MemoryStoreAPI):
        store = target
    else:
        raise MemoryValidationError(f"expected a memory store or OmneMemory, got {type(target).__name__}")
    if scope is None:
        raise MemoryValidationError("a scope is required to record a conversation into a memory store")
    # Image parts keep their bytes in a local blob store; a store without one gets the messages as text.
    blobs = store.blobs if isinstance(store.blobs, BlobStore) else None
    records = await conversation_records(messages, scope, blobs)
    return await store.add(records, actor=actor) if records else []
