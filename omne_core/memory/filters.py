"""Hard filters (scope, kind, time, status, metadata values) expressed once: each backend renders them for its own
queries, and `matches` checks them on loaded records."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from .errors import MemoryValidationError

ScopeArg = MemoryScope | Sequence[MemoryScope]
MetadataValue = str | int | float | bool
MetadataFilter = Mapping[str, MetadataValue]
MetadataConditions = dict[str, bool | int | float | str]  # in pydantic models: JSON scalars keep their type, 1 ≠ "1"
MAX_METADATA_CONDITIONS = 16


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalize_scopes(scope: Any) -> tuple[MemoryScope, ...]:
    """One or more scopes, validated. Raises MemoryValidationError for anything else."""
    scopes = (scope,) if isinstance(scope, MemoryScope) else scope
    if isinstance(scopes, str | bytes) or not isinstance(scopes, Sequence) or not scopes:
        raise MemoryValidationError(f"scope must be a MemoryScope or a non-empty sequence of them, got {scope!r}")
    for item in scopes:
        if not isinstance(item, MemoryScope):
            raise MemoryValidationError(f"scope must be a MemoryScope, got {type(item).__name__}")
    return tuple(dict.fromkeys(scopes))


def normalize_statuses(statuses: Any) -> tuple[MemoryStatus, ...] | None:
    if statuses is None:
        return None
    if isinstance(statuses, str | MemoryStatus):
        statuses = [statuses]
    try:
        return tuple(dict.fromkeys(MemoryStatus(s) for s in statuses))
    except (TypeError, ValueError) as exc:
        raise MemoryValidationError(
            f"unknown status in {statuses!r}; expected {[s.value for s in MemoryStatus]}"
        ) from exc


def normalize_kinds(kinds: Any) -> tuple[MemoryKind, ...] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str | MemoryKind):
        kinds = [kinds]
    try:
        return tuple(MemoryKind(k) for k in kinds)
    except (TypeError, ValueError) as exc:
        raise MemoryValidationError(f"unknown memory kind in {kinds!r}; expected {[k.value for k in MemoryKind]}") from exc


def normalize_metadata(metadata: Any) -> tuple[tuple[str, MetadataValue], ...] | None:
    """`{key: value}` conditions on a record's top-level metadata, each checked, sorted by key. A value is a JSON
    scalar (string, number, boolean): a record matches when its metadata holds exactly that value under that key
    (numbers compare as numbers, so 2 matches 2.0; a boolean is no number)."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise MemoryValidationError(f"metadata must be a mapping of keys to values, got {type(metadata).__name__}")
    if not metadata or len(metadata) > MAX_METADATA_CONDITIONS:
        raise MemoryValidationError(f"metadata must hold 1 to {MAX_METADATA_CONDITIONS} conditions, got {len(metadata)}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key or len(key) > 200:
            raise MemoryValidationError(f"a metadata key must be a string of 1 to 200 characters, got {key!r}")
        if not _scalar(value):
            raise MemoryValidationError(
                f"metadata value of {key!r} must be a string, a finite number (64-bit if whole) or a boolean, "
                f"got {value!r}"
            )
    return tuple(sorted(metadata.items()))


def _scalar(value: Any) -> bool:
    return (isinstance(value, str) or (isinstance(value, float) and math.isfinite(value))
            or (isinstance(value, int) and -(2**63) <= value < 2**63))  # fmt: skip


def parse_labels(pairs: Iterable[str]) -> dict[str, MetadataValue]:
    """`key=value` texts (a command line's `--meta`, a form field) as metadata: a value that reads as a JSON number,
    boolean or quoted string is that (`priority=2`, `done=true`, `code="007"`), anything else is the text as
    written (`project=apollo`; a list, an object or NaN too)."""
    out: dict[str, MetadataValue] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise MemoryValidationError(f"{pair!r} is not key=value")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out[key.strip()] = value if _scalar(value) else raw
    return out


def metadata_equal(stored: Any, wanted: MetadataValue) -> bool:
    """Whether a stored metadata value is the wanted one: the same string, the same boolean, or an equal number."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return stored is wanted
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    return isinstance(stored, int | float) and stored == wanted


@dataclass(frozen=True)
class RecordFilter:
    """Scope union AND kinds AND time window AND status (`statuses` when given, else active unless
    include_inactive) AND metadata values. All hard."""

    scopes: tuple[MemoryScope, ...]
    kinds: tuple[MemoryKind, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_inactive: bool = False
    statuses: tuple[MemoryStatus, ...] | None = None
    metadata: tuple[tuple[str, MetadataValue], ...] | None = None

    @classmethod
    def build(
        cls,
        scope: Any,
        kinds: Any = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_inactive: bool = False,
        statuses: Any = None,
        metadata: Any = None,
    ) -> RecordFilter:
        for name, value in (("since", since), ("until", until)):
            if value is not None and not isinstance(value, datetime):
                raise MemoryValidationError(f"{name} must be a datetime, got {type(value).__name__}")
        return cls(
            scopes=normalize_scopes(scope),
            kinds=normalize_kinds(kinds),
            since=as_utc(since) if since else None,
            until=as_utc(until) if until else None,
            include_inactive=include_inactive,
            statuses=normalize_statuses(statuses),
            metadata=normalize_metadata(metadata),
        )

    # -- partitions ------------------------------------------------------------------------------
    def users(self) -> tuple[str, ...]:
        """The users the filter reaches (each is one partition of the vector index)."""
        return tuple(dict.fromkeys(scope.user_id for scope in self.scopes))

    def for_user(self, user_id: str) -> RecordFilter:
        """The same filter restricted to the scopes of one user."""
        return replace(self, scopes=tuple(s for s in self.scopes if s.user_id == user_id))

    # -- Python (the final check on records loaded from the record of truth) --------------------
    def matches(self, record: MemoryRecord) -> bool:
        if not any(query.contains(record.scope) for query in self.scopes):
            return False
        if self.kinds is not None and record.kind not in self.kinds:
            return False
        ts = record_ts(record)
        if self.since is not None and ts < self.since.timestamp():
            return False
        if self.until is not None and ts > self.until.timestamp():
            return False
        statuses = self.status_set()
        if statuses is not None and record.status not in statuses:
            return False
        return all(key in record.metadata and metadata_equal(record.metadata[key], value)
                   for key, value in self.metadata or ())  # fmt: skip

    def narrower_than_users(self) -> bool:
        """Whether the filter allows less than its users' records in their default status view: a kind, a time
        window, chosen statuses, metadata values, or a scope below the user (agent, session, namespace)."""
        return (
            self.kinds is not None or self.since is not None or self.until is not None or self.statuses is not None
            or self.metadata is not None
            or any(s.agent_id is not None or s.session_id is not None or s.namespace is not None for s in self.scopes)
        )  # fmt: skip

    def status_set(self) -> tuple[MemoryStatus, ...] | None:
        """The statuses the filter admits (None: every status)."""
        if self.statuses is not None:
            return self.statuses
        return None if self.include_inactive else (MemoryStatus.ACTIVE,)


def record_ts(record: MemoryRecord) -> float:
    """Epoch seconds of when the record happened (event time), else when it was learnt."""
    return as_utc(record.event_time or record.created_at).timestamp()
