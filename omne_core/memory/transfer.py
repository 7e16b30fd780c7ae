"""Export and import of a store's records as JSONL (`omne-memory/1`), blobs inlined as base64.

An export is written to a temporary file and renamed into place; an import file is parsed and checked whole
before anything is written, so a corrupt file imports nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from ..blobs import BlobStore
from ..config import MemorySettings
from ..records import MemoryRecord
from .errors import MemoryImportError, MemoryValidationError

EXPORT_FORMAT = "omne-memory/1"


def write_export(path: Path, records: Iterable[MemoryRecord], blobs: BlobStore) -> int:
    """Write the records (with their blobs' bytes) to `path` atomically; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for record in records:
                blob = blobs.get_bytes(record.blob_ref) if record.blob_ref and blobs.exists(record.blob_ref) else None
                line = {
                    "format": EXPORT_FORMAT,
                    "record": record.model_dump(mode="json"),
                    "blob_base64": base64.b64encode(blob).decode("ascii") if blob is not None else None,
                }
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def read_import(path: Path, settings: MemorySettings, blobs: BlobStore) -> tuple[list[MemoryRecord], list[bytes]]:
    """The records of an export file and the blob bytes it inlines; raises `MemoryImportError` (file, line,
    reason) on the first bad line, having written nothing."""
    if not path.is_file():
        raise MemoryValidationError(f"import file not found: {path}")
    records: list[MemoryRecord] = []
    inlined: list[bytes] = []
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        try:
            lines = list(fh)
        except UnicodeDecodeError as exc:
            raise MemoryImportError(str(path), 0, f"not UTF-8 text: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise MemoryImportError(str(path), number, f"invalid JSON: {exc}") from None
        if not isinstance(item, dict) or item.get("format") != EXPORT_FORMAT or "record" not in item:
            raise MemoryImportError(str(path), number, f"not an {EXPORT_FORMAT} line")
        try:
            record = MemoryRecord.model_validate(item["record"])
        except ValidationError as exc:
            raise MemoryImportError(str(path), number, f"invalid record: {exc}") from None
        if item.get("blob_base64") is not None:
            try:
                data = base64.b64decode(item["blob_base64"], validate=True)
            except (ValueError, TypeError) as exc:
                raise MemoryImportError(str(path), number, f"invalid blob: {exc}") from None
            if hashlib.sha256(data).hexdigest() != record.blob_ref:
                raise MemoryImportError(str(path), number, "blob bytes do not match the record's blob_ref")
            inlined.append(data)
        elif record.blob_ref and not blobs.exists(record.blob_ref):
            raise MemoryImportError(str(path), number, f"blob {record.blob_ref} is neither inlined nor present")
        if not record.text.strip() and not record.blob_ref:
            raise MemoryImportError(str(path), number, "empty text")
        if len(record.text) > settings.max_text_chars:
            raise MemoryImportError(str(path), number, "text longer than max_text_chars")
        records.append(record)
    return records, inlined
