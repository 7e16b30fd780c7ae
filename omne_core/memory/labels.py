"""A record's labels: the metadata a user filters by, as opposed to the keys Omne writes to describe one record.

A conclusion (`reflect`, `summarize_session`) inherits the labels all its sources agree on, as Mem0 gives the
memories it extracts the metadata of the `add` call: a fact drawn from records labelled `project=apollo` is
about apollo, so a search filtered by that label finds it, and it serves there as a key to its sources.
Keys that place or identify one record (a message id, a part index, a chunk's position, who spoke it, which
file bytes it came from) are not labels; nor is a nested object, which no filter can match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import MemoryRecord
from .metadata_filter import is_scalar, scalar_equal

# Keys Omne writes to describe one record (messages/memory.py, documents/chunking.py, memory/ingest.py, reflection).
RECORD_OWN_KEYS = frozenset({
    "source_ref", "message_id", "message_type", "part_index", "part_count", "part_type", "part", "sender", "speaker",
    "role", "message_metadata", "section_kind", "chunk_index", "chunk_count", "token_count", "ingested_from",
    "file_sha256", "derived_by", "messages", "speakers", "omne",
})  # fmt: skip


def labels(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The labels among `metadata`: scalars and lists of scalars under keys that are not Omne's own."""
    return {
        key: value
        for key, value in metadata.items()
        if key not in RECORD_OWN_KEYS
        and not key.startswith("omne.")
        and (is_scalar(value) or (isinstance(value, list) and all(is_scalar(v) for v in value)))
    }


def same_labels(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two records' labels are the same (numbers compare as numbers, as a filter compares them)."""
    first, second = labels(a), labels(b)
    return first.keys() == second.keys() and all(_equal(first[k], second[k]) for k in first)


def shared_labels(sources: Sequence[MemoryRecord]) -> dict[str, Any]:
    """The labels every source carries with the same value (what a conclusion drawn from them inherits)."""
    if not sources:
        return {}
    common = labels(sources[0].metadata)
    for record in sources[1:]:
        own = labels(record.metadata)
        common = {k: v for k, v in common.items() if k in own and _equal(v, own[k])}
    return common


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(map(scalar_equal, a, b))
    return scalar_equal(a, b)
