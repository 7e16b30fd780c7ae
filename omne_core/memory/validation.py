"""Input checks of the store's operators: records, ids and batch sizes are rejected before anything is written."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ..blobs import BlobStore
from ..config import MemorySettings
from ..records import MemoryRecord
from .errors import MemoryValidationError
from .filters import as_utc


def check_id(record_id: Any) -> str:
    if not isinstance(record_id, str) or not record_id:
        raise MemoryValidationError(f"record id must be a non-empty string, got {record_id!r}")
    return record_id


def check_list_limit(limit: Any) -> None:
    """A list's limit: a positive integer, or None for every record."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise MemoryValidationError(f"limit must be a positive integer or None, got {limit!r}")


def check_search(query: str, limit: int, min_similarity: float | None) -> None:
    """A search's query, limit and minimum similarity, or `MemoryValidationError`."""
    if not isinstance(query, str) or not query.strip():
        raise MemoryValidationError("query must be a non-empty string")
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise MemoryValidationError(f"limit must be an integer in 1..1000, got {limit!r}")
    if min_similarity is not None and (
        isinstance(min_similarity, bool) or not isinstance(min_similarity, int | float) or not -1 <= min_similarity <= 1
    ):
        raise MemoryValidationError(f"min_similarity must be a number in -1..1, got {min_similarity!r}")


def check_batch(records: Any, settings: MemorySettings) -> None:
    if isinstance(records, list | tuple) and len(records) > settings.max_batch:
        raise MemoryValidationError(f"batch of {len(records)} records exceeds max_batch={settings.max_batch}")


def validate_records(records: Any, settings: MemorySettings, blobs: BlobStore) -> list[MemoryRecord]:
    """One record or a list of them, each re-validated; the first bad one rejects the call (its index named)."""
    if isinstance(records, MemoryRecord):
        records = [records]
    if not isinstance(records, list | tuple):
        raise MemoryValidationError(f"expected a MemoryRecord or a list of them, got {type(records).__name__}")
    out = []
    for i, record in enumerate(records):
        try:
            out.append(validate_record(record, settings, blobs))
        except MemoryValidationError as exc:
            raise MemoryValidationError(f"record {i}: {exc}") from None
    return out


def validate_record(record: Any, settings: MemorySettings, blobs: BlobStore) -> MemoryRecord:
    """The record re-validated (fields may have been assigned after construction), its times in UTC."""
    if not isinstance(record, MemoryRecord):
        raise MemoryValidationError(f"expected MemoryRecord, got {type(record).__name__}")
    try:
        checked = MemoryRecord.model_validate(record.model_dump(warnings=False))
    except ValidationError as exc:
        raise MemoryValidationError(str(exc)) from None
    if not checked.text.strip() and not checked.blob_ref:
        raise MemoryValidationError("text is empty (and there is no blob)")
    limit = settings.max_text_chars
    if len(checked.text) > limit:
        raise MemoryValidationError(f"text has {len(checked.text)} characters, more than max_text_chars={limit}")
    if checked.blob_ref is not None:
        try:
            present = blobs.exists(checked.blob_ref)
        except ValueError as exc:
            raise MemoryValidationError(str(exc)) from None
        if not present:
            raise MemoryValidationError(f"blob {checked.blob_ref} is not in the blob store")
    try:
        json.dumps(checked.payload)
        json.dumps(checked.metadata)
    except (TypeError, ValueError) as exc:
        raise MemoryValidationError(f"payload/metadata must be JSON-serialisable: {exc}") from None
    return checked.model_copy(
        update={
            "created_at": as_utc(checked.created_at),
            "updated_at": as_utc(checked.updated_at),
            "event_time": as_utc(checked.event_time) if checked.event_time else None,
        }
    )
