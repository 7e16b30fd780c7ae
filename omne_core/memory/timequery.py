"""Time expressions in a query ("in May 2023", "last week", "yesterday", "on 3 March") as time windows.

The expressions are found and resolved by `dateparser` (`search_dates`), relative to the store's own "now": the
newest record in the searched scope (a conversation's time, not today's), preferring the past (memory is asked
about what happened). A window is a *boost* for the records whose time falls in it (`MemorySettings.time_weight`),
never a hard filter: a parse can be wrong ("may" as a month), and a record can tell of an event days after it.
Spans dateparser accepts that are no time ("we", a lone lower-case "may") are dropped, and so are expressions
relative to another event ("two days before the trip"): its date is not known here, only its words are searched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from pydantic import BaseModel

from .indexing import words

logger = logging.getLogger(__name__)

_MONTHS = "january february march april may june july august september october november december".split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_RELATIVE = set(
    "yesterday today tonight tomorrow ago last next past this previous coming recently week weeks weekend month "
    "months year years day days".split()
)
# A query is handed to the parser only if it holds one of these words or a digit (the parser costs a few ms).
_TIME_WORDS = frozenset({*_MONTHS, *(m[:3] for m in _MONTHS), *_DAYS, *_RELATIVE})
_EVENT_RELATIVE = {"before", "after", "since", "until", "till"}  # "two days before the trip": not resolvable here
_FILLER = {"in", "on", "at", "of", "the", "during", "from", "by", "around", "a", "an", "for"}
_PERIOD_DAYS = {"day": 1, "time": 1, "week": 7}


class TimeWindow(BaseModel):
    """A span of time a query names: the expression as written, the period it was read as, and its bounds."""

    expression: str
    period: str  # day, week, month or year
    start: datetime
    end: datetime  # exclusive

    def holds(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def describe(self) -> str:
        last = self.end - timedelta(seconds=1)
        return f"{self.expression!r} = {self.start:%Y-%m-%d}..{last:%Y-%m-%d}"


def may_name_a_time(query: str) -> bool:
    """Cheap gate before the parser: a digit, or a month, weekday or relative time word."""
    return any(ch.isdigit() for ch in query) or any(w in _TIME_WORDS for w in words(query))


def plausible(span: str) -> bool:
    """Whether a span the parser took for a date can be one: it names a month, weekday, number or relative time
    word (not "we", not the modal "may"), and is not relative to another event."""
    tokens = [w for w in words(span) if w not in _FILLER]
    if not tokens or _EVENT_RELATIVE & set(tokens):
        return False
    if tokens == ["may"] and "May" not in span:  # "who may come": the modal verb
        return False
    return any(t.isdigit() or t in _MONTHS or t in _DAYS or t in _RELATIVE for t in tokens)


def window(expression: str, when: datetime, period: str) -> TimeWindow:
    """The span of the period (day, week, month, year) that starts at or holds `when`."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if period == "year":
        start = when.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1)
    elif period == "month":
        start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        start = when.replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=_PERIOD_DAYS.get(period, 1))
    return TimeWindow(expression=expression, period=period if period in {"year", "month", "week"} else "day",
                      start=start, end=end)


@cache
def _parser() -> Any:
    from dateparser.date import DateDataParser  # imported on first use: 0.3 s

    return DateDataParser(languages=["en"])


async def query_windows(query: str, newest: Callable[[], Awaitable[datetime | None]]) -> list[TimeWindow]:
    """The windows a query names, relative to `await newest()` (the time of the newest record searched; asked
    only when the query may name a time), or to the clock when there is none. The parser runs in a thread."""
    if not may_name_a_time(query):
        return []
    now = await newest() or datetime.now(UTC)
    return await asyncio.to_thread(find_windows, query, now)


def find_windows(query: str, now: datetime) -> list[TimeWindow]:
    """The time windows a query names, read relative to `now` (preferring the past); [] when none is plausible
    or the parser is unavailable."""
    if not may_name_a_time(query):
        return []
    try:
        from dateparser.search import search_dates
    except ImportError:  # an optional nicety: search works without it
        logger.debug("dateparser is not installed: time expressions in queries are not read")
        return []
    base = now.astimezone(UTC).replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past", "RETURN_AS_TIMEZONE_AWARE": False}
    found = search_dates(query, languages=["en"], settings=settings) or []
    out: list[TimeWindow] = []
    for span, when in found:
        if plausible(span):
            period = _parser().get_date_data(span).period or "day"  # the period does not depend on the base
            out.append(window(span.strip(), when, period))
    return out
