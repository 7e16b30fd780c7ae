"""Messages as memory records, in one place: an `OmneMessage` as one L0 `message` record per part (binary content
kept once in the `BlobStore`) and back, and AutoGen chat messages (a conversation) as records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseChatMessage, MultiModalMessage
from pydantic import TypeAdapter

from ..blobs import BlobStore
from ..records import MemoryKind, MemoryRecord, MemoryScope, Modality
from .autogen import from_chat_message
from .message import MessageRole, OmneMessage
from .parts import AudioPart, BinaryPart, FilePart, ImagePart, MessagePart, PartError, TextPart
from .render import RenderOptions, part_as_text

_PART = TypeAdapter(MessagePart)
_MODALITY = {TextPart: Modality.TEXT, ImagePart: Modality.IMAGE, FilePart: Modality.FILE, AudioPart: Modality.AUDIO}


async def _store_bytes(part: BinaryPart, blobs: BlobStore) -> str | None:
    """The part's blob reference after storing its bytes; None for URL-only parts (not downloaded)."""
    if part.data is None and part.path is None:
        if part.blob_ref is not None:
            return part.blob_ref
        return None
    try:
        return await blobs.aput_bytes(await part.read_bytes(blobs))
    except PartError:
        return part.blob_ref


async def to_memory_records(
    message: OmneMessage,
    scope: MemoryScope,
    blobs: BlobStore,
    options: RenderOptions | None = None,
) -> list[MemoryRecord]:
    """One L0 record per part. Text parts keep their text; image, file and audio parts store their
    bytes in `blobs` (same bytes → one blob) and get a searchable text (description, extracted text,
    transcript) rendered with `options`."""
    options = options or RenderOptions(vision=False, blobs=blobs)
    if options.blobs is None:
        options.blobs = blobs
    records = []
    count = len(message.parts)
    for index, part in enumerate(message.parts):
        metadata: dict[str, Any] = {
            "message_id": message.id,
            "part_index": index,
            "part_count": count,
            "part_type": part.type,
            "sender": message.sender,
            "speaker": message.sender,  # the key conversation_records uses
            "role": message.role.value,
        }
        if message.metadata:
            metadata["message_metadata"] = message.metadata
        blob_ref = None
        mime_type = None
        if isinstance(part, BinaryPart):
            blob_ref = await _store_bytes(part, blobs)
            mime_type = part.mime_type
            descriptor = part.model_dump(mode="json", exclude={"data"}, exclude_none=True)
            if blob_ref:
                descriptor["blob_ref"] = blob_ref
            metadata["part"] = descriptor
            text = await part_as_text(part, options)
        else:
            text = part.text
        records.append(
            MemoryRecord(
                kind=MemoryKind.MESSAGE,
                text=text,
                modality=_MODALITY[type(part)],
                blob_ref=blob_ref,
                mime_type=mime_type,
                scope=scope,
                event_time=message.time,
                metadata=metadata,
            )
        )
    return records


async def from_memory_records(
    records: list[MemoryRecord], blobs: BlobStore | None = None, *, load_bytes: bool = False
) -> list[OmneMessage]:
    """Messages rebuilt from their part records (grouped by message, parts in order). Binary parts
    point at their blob; with `load_bytes` their bytes are read back from `blobs`."""
    groups: dict[str, list[MemoryRecord]] = defaultdict(list)
    for record in records:
        if record.kind is MemoryKind.MESSAGE and "message_id" in record.metadata:
            groups[record.metadata["message_id"]].append(record)
    messages = []
    for message_id, group in groups.items():
        group.sort(key=lambda r: r.metadata.get("part_index", 0))
        first = group[0].metadata
        parts: list[MessagePart] = []
        for record in group:
            descriptor = record.metadata.get("part")
            if descriptor is None:
                parts.append(TextPart(text=record.text))
                continue
            part = _PART.validate_python({**descriptor, "blob_ref": record.blob_ref or descriptor.get("blob_ref")})
            if isinstance(part, TextPart):
                parts.append(part)
                continue
            if load_bytes and blobs is not None and part.blob_ref and blobs.exists(part.blob_ref):
                part = part.model_copy(update={"data": await blobs.aget_bytes(part.blob_ref)})
            parts.append(part)
        messages.append(
            OmneMessage(
                id=message_id,
                role=MessageRole(first.get("role", "user")),
                sender=first.get("sender", "user"),
                parts=parts,
                time=group[0].event_time or group[0].created_at,
                metadata=first.get("message_metadata", {}),
            )
        )
    messages.sort(key=lambda m: m.time)
    return messages


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
    records = await to_memory_records(from_chat_message(message), scope, blobs)
    return [r for r in records if r.text.strip() or r.blob_ref]
