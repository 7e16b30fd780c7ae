"""What the record list and the search playground are asked for, parsed from a page's query string.

Bad input (an unknown kind, a date that is not a date) becomes a message on the page, never an error page: the
filter form comes back with what was typed so it can be corrected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omne_core.memory import MemoryKind, MemoryScope, MemoryStatus, MemoryValidationError
from omne_core.memory.metadata_filter import normalize_metadata, parse_conditions

STATUS_CHOICES = ("active", "superseded", "deleted", "any")
PAGE_SIZES = (20, 50, 100, 200)
MAX_TEXT = 512  # user ids, session ids, record ids typed into a form


def parse_time(value: str, name: str, problems: list[str]) -> datetime | None:
    """An ISO date or date-time (a browser's datetime-local value is one); naive values are UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        problems.append(f"{name}: not a date or time (use 2026-01-31 or 2026-01-31T14:00)")
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _text(value: str | None) -> str:
    return (value or "").strip()[:MAX_TEXT]


def parse_label(value: str, problems: list[str]) -> dict[str, Any] | None:
    """The `label` field as metadata conditions (`parse_conditions`): `project=apollo`, `priority=2`, or a JSON
    object as the REST API takes it (`{"priority": {"gte": 2}, "project": {"in": ["apollo", "zeus"]}}`)."""
    if not value:
        return None
    try:
        labels = parse_conditions([value])
        normalize_metadata(labels)
    except MemoryValidationError as exc:
        problems.append(f"label: {exc}")
        return None
    return labels


def parse_kinds(values: list[str], problems: list[str]) -> list[MemoryKind]:
    kinds = []
    for value in values:
        if value in MemoryKind._value2member_map_:
            kinds.append(MemoryKind(value))
        elif value:
            problems.append("kind: unknown kind")
    return kinds


def parse_int(value: str | None, default: int, low: int, high: int, name: str, problems: list[str]) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        problems.append(f"{name}: not a whole number")
        return default
    if not low <= number <= high:
        problems.append(f"{name}: must be between {low} and {high}")
        return default
    return number


@dataclass
class RecordQuery:
    """The record list's filters and page."""

    user: str = ""
    kinds: list[MemoryKind] = field(default_factory=list)
    session: str = ""
    since: datetime | None = None
    until: datetime | None = None
    since_text: str = ""
    until_text: str = ""
    status: str = "active"
    oldest_first: bool = False
    after: str = ""
    limit: int = 50
    label: str = ""
    metadata: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> RecordQuery:
        problems: list[str] = []
        status = _text(params.get("status")) or "active"
        if status not in STATUS_CHOICES:
            problems.append("status: unknown status")
            status = "active"
        since_text, until_text = _text(params.get("since")), _text(params.get("until"))
        limit = parse_int(params.get("limit"), 50, 1, PAGE_SIZES[-1], "limit", problems)
        label = _text(params.get("label"))
        return cls(
            user=_text(params.get("user")), kinds=parse_kinds(params.getlist("kind"), problems),
            session=_text(params.get("session")), since=parse_time(since_text, "since", problems),
            until=parse_time(until_text, "until", problems), since_text=since_text, until_text=until_text,
            status=status, oldest_first=params.get("order") == "oldest", after=_text(params.get("after")),
            limit=limit, label=label, metadata=parse_label(label, problems), problems=problems,
        )  # fmt: skip

    @property
    def scope(self) -> MemoryScope:
        return MemoryScope(user_id=self.user, session_id=self.session or None)

    @property
    def statuses(self) -> list[MemoryStatus] | None:
        return None if self.status == "any" else [MemoryStatus(self.status)]

    def params(self, **override: Any) -> dict[str, Any]:
        """The query string of this list (for the next page, or a changed filter)."""
        params: dict[str, Any] = {
            "user": self.user, "kind": [k.value for k in self.kinds], "session": self.session,
            "since": self.since_text, "until": self.until_text,
            "status": self.status if self.status != "active" else "", "order": "oldest" if self.oldest_first else "",
            "limit": self.limit if self.limit != 50 else "", "after": self.after, "label": self.label,
        }  # fmt: skip
        params.update(override)
        return params


@dataclass
class SearchQuery:
    """The search playground's question: a query in a scope, and the token budget of the context."""

    user: str = ""
    session: str = ""
    query: str = ""
    kinds: list[MemoryKind] = field(default_factory=list)
    limit: int = 10
    budget: int = 500
    include_inactive: bool = False
    label: str = ""
    metadata: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Any) -> SearchQuery:
        problems: list[str] = []
        label = _text(params.get("label"))
        return cls(
            user=_text(params.get("user")), session=_text(params.get("session")),
            label=label, metadata=parse_label(label, problems),
            query=(params.get("q") or "").strip()[:4000], kinds=parse_kinds(params.getlist("kind"), problems),
            limit=parse_int(params.get("limit"), 10, 1, 100, "limit", problems),
            budget=parse_int(params.get("budget"), 500, 0, 32000, "token budget", problems),
            include_inactive=params.get("inactive") == "1", problems=problems,
        )  # fmt: skip

    @property
    def scope(self) -> MemoryScope:
        return MemoryScope(user_id=self.user, session_id=self.session or None)
