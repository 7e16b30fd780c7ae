"""Hard filters (scope, kind, time, status, metadata values) expressed once: each backend renders them for its own
queries, and `matches` checks them on loaded records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from .errors import MemoryValidationError
from .metadata_filter import MetadataCondition, normalize_metadata

ScopeArg = MemoryScope | Sequence[MemoryScope]


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
    metadata: tuple[MetadataCondition, ...] | None = None

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
        return all(condition.holds(record.metadata) for condition in self.metadata or ())

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
