"""AutoGen `MemoryContent` <-> Omne `MemoryRecord`: content kept by MIME type, the user's metadata kept apart.

A record's `metadata` is the user's, exactly as given (JSON values: 1 stays int, 0.5 float, True bool). Omne's
own fields travel under the one key `"omne"` (`OMNE_KEY`), never beside the user's keys:

- on `add`, `metadata["omne"]` may set `kind`, `importance`, `time` (when it happened) and `description` (the
  searchable text of an image or bytes) — see `AddOptions`; it is not stored as user metadata;
- on `query`, `metadata["omne"]` says what Omne knows of the result — see `ResultInfo`.

Content: `str` is text (any textual MIME type, e.g. text/plain, text/markdown, text/csv), a `dict` is JSON
(`MemoryMimeType.JSON`), `bytes` and `autogen_core.Image` are kept in the blob store and come back as they went
in, with their MIME type.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Any

from autogen_core import Image
from autogen_core.memory import MemoryContent, MemoryMimeType
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..records import MemoryKind, MemoryLevel, MemoryRecord, MemoryScope, Modality
from .errors import MemoryValidationError, validation_problems
from .results import SearchHit
from .store_access import BlobAccess

logger = logging.getLogger(__name__)

OMNE_KEY = "omne"
JSON_MIME = MemoryMimeType.JSON.value
_BINARY_MODALITIES = (Modality.FILE, Modality.AUDIO)


class AddOptions(BaseModel):
    """What `metadata["omne"]` may set when content is added (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    kind: MemoryKind | None = None  # default: the memory's `add_kind`
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    time: datetime | None = None  # when it happened (the record's event time)
    description: str | None = Field(default=None, min_length=1)  # searchable text of an image or bytes


class ResultInfo(BaseModel):
    """What `metadata["omne"]` of a query result holds."""

    id: str
    kind: MemoryKind
    level: MemoryLevel
    importance: float
    time: datetime  # when it happened, else when it was learnt
    source_ids: list[str]  # the records an L1 conclusion was derived from
    similarity: float | None  # cosine similarity to the query (-1..1, what `score_threshold` compares); None: unknown
    rank_score: float | None  # the fused ranking score: orders the results of one query, means nothing across queries
    reasons: list[str]  # why the result ranked where it did


_RESULT_ONLY = frozenset(ResultInfo.model_fields) - frozenset(AddOptions.model_fields)


def mime_of(content: MemoryContent) -> str:
    mime = content.mime_type
    return mime.value if isinstance(mime, MemoryMimeType) else str(mime)


def as_mime_type(mime: str) -> MemoryMimeType | str:
    """AutoGen's enum member for a MIME string it names, else the string itself."""
    try:
        return MemoryMimeType(mime)
    except ValueError:
        return mime


def add_options(value: Any) -> AddOptions:
    """`metadata["omne"]` of added content, validated. The read-only fields of a query result are ignored, so a
    result can be added to another memory as it is."""
    if value is None:
        return AddOptions()
    if not isinstance(value, dict):
        raise MemoryValidationError(f'metadata["{OMNE_KEY}"] is Omne\'s own key and must be a dict, got {value!r}')
    try:
        return AddOptions.model_validate({k: v for k, v in value.items() if k not in _RESULT_ONLY})
    except ValidationError as exc:
        raise MemoryValidationError(f'metadata["{OMNE_KEY}"] is invalid ({validation_problems(exc)})') from None


def query_text(query: str | MemoryContent) -> str:
    """The text a query searches with: text as it is, JSON as it was indexed; images and bytes are refused."""
    if isinstance(query, str):
        return query
    value = query.content
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _json_text(value)
    raise MemoryValidationError(f"a memory query must be text or JSON, not {type(value).__name__}")


async def to_record(
    content: MemoryContent, scope: MemoryScope, default_kind: MemoryKind, blobs: BlobAccess
) -> MemoryRecord:
    """The record that stores `content` in `scope`. Content that does not match its MIME type is refused."""
    metadata = dict(content.metadata or {})
    options = add_options(metadata.pop(OMNE_KEY, None))
    mime = mime_of(content)
    value = content.content
    fields: dict[str, Any]
    if isinstance(value, Image | bytes):
        fields = await _binary_fields(value, mime, options, blobs)
    elif isinstance(value, dict):
        if mime != JSON_MIME:
            raise MemoryValidationError(f"a dict is JSON content: its MIME type must be {JSON_MIME}, not {mime}")
        fields = {"text": _json_text(value), "payload": value}
    elif isinstance(value, str):
        if mime == JSON_MIME:
            raise MemoryValidationError("JSON content must be a dict")
        if not _textual(mime):
            raise MemoryValidationError(f"{mime} content must be an image or bytes, not text")
        fields = {"text": value}
    else:
        raise MemoryValidationError(f"unsupported memory content type {type(value).__name__}")
    return MemoryRecord(
        kind=options.kind or default_kind,
        scope=scope,
        importance=options.importance,
        event_time=options.time,
        mime_type=mime,
        metadata=metadata,
        **fields,
    )


async def _binary_fields(value: Image | bytes, mime: str, options: AddOptions, blobs: BlobAccess) -> dict[str, Any]:
    if isinstance(value, Image):
        if not mime.startswith("image/"):
            raise MemoryValidationError(f"an image needs an image MIME type (image/*), not {mime}")
        data, modality = base64.b64decode(value.to_base64()), Modality.IMAGE
    else:
        if _textual(mime):
            raise MemoryValidationError(f"bytes need a binary MIME type (e.g. {MemoryMimeType.BINARY.value}), not {mime}")
        data, modality = value, Modality.FILE  # bytes come back as bytes, whatever their MIME type
    ref = await blobs.aput_bytes(data)
    stand_in = f"[{'image' if isinstance(value, Image) else 'binary'} {mime}, {len(data)} bytes]"
    return {"text": options.description or stand_in, "modality": modality, "blob_ref": ref}


def _textual(mime: str) -> bool:
    return mime.startswith("text/") or mime == JSON_MIME or mime.endswith(("+json", "+xml")) or mime in {
        "application/xml", "application/x-yaml", "application/yaml", "application/javascript",
    }


def _json_text(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise MemoryValidationError(f"JSON content must hold JSON values only: {exc}") from None


async def to_content(hit: SearchHit | MemoryRecord, blobs: BlobAccess) -> MemoryContent:
    """The `MemoryContent` a record was added as: its content by MIME type, the user's metadata, Omne's under "omne"."""
    record = hit.record if isinstance(hit, SearchHit) else hit
    info = ResultInfo(
        id=record.id,
        kind=record.kind,
        level=record.level,
        importance=record.importance,
        time=record.event_time or record.created_at,
        source_ids=list(record.source_ids),
        similarity=hit.dense_score if isinstance(hit, SearchHit) else None,
        rank_score=round(hit.score, 6) if isinstance(hit, SearchHit) else None,
        reasons=list(hit.reasons) if isinstance(hit, SearchHit) else [],
    )
    content, mime = await _content_of(record, blobs)
    return MemoryContent(
        content=content,
        mime_type=as_mime_type(mime),
        metadata={**record.metadata, OMNE_KEY: info.model_dump(mode="json")},
    )


async def _content_of(record: MemoryRecord, blobs: BlobAccess) -> tuple[str | bytes | dict[str, Any] | Image, str]:
    mime = record.mime_type
    if record.blob_ref and record.modality in (Modality.IMAGE, *_BINARY_MODALITIES):
        try:
            data = await blobs.aget_bytes(record.blob_ref)
        except (KeyError, OSError) as exc:  # the record keeps its text; say what is missing
            logger.warning("blob %s of record %s is unavailable (%s): returning its text", record.blob_ref, record.id, exc)
            return record.text, "text/plain"
        if record.modality is Modality.IMAGE:
            try:
                return Image.from_base64(base64.b64encode(data).decode("ascii")), mime or MemoryMimeType.IMAGE.value
            except Exception as exc:  # not an image PIL can open: the bytes themselves
                logger.warning("blob of record %s is not a readable image (%s)", record.id, exc)
        return data, mime or MemoryMimeType.BINARY.value
    if mime == JSON_MIME and record.payload is not None:
        return record.payload, mime
    return record.text, mime or MemoryMimeType.TEXT.value
