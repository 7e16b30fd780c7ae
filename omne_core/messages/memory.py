"""Messages as memory: one L0 `message` record per part, binary content kept once in the `BlobStore`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import TypeAdapter

from ..blobs import BlobStore
from ..memory.record import MemoryKind, MemoryRecord, MemoryScope, Modality
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
