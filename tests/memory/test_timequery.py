"""Time expressions in queries: read by dateparser relative to the store's own time, a boost never a filter."""

from __future__ import annotations

from datetime import UTC, datetime

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.memory.timequery import find_windows, plausible

NOW = datetime(2023, 8, 1, 15, tzinfo=UTC)


def spans(query: str, now: datetime = NOW) -> list[tuple[str, str, str, str]]:
    return [(w.expression, w.period, f"{w.start:%Y-%m-%d}", f"{w.end:%Y-%m-%d}") for w in find_windows(query, now)]


def test_absolute_and_relative_expressions_become_windows_of_their_period():
    assert spans("What happened in May 2023?") == [("in May 2023", "month", "2023-05-01", "2023-06-01")]
    assert spans("When did Melanie go camping in June?") == [("in June", "month", "2023-06-01", "2023-07-01")]
    assert spans("What did she do yesterday?") == [("yesterday", "day", "2023-07-31", "2023-08-01")]
    assert spans("What did I do last week?") == [("last week", "week", "2023-07-25", "2023-08-01")]
    assert spans("What book did Melanie read last year?") == [("last year", "year", "2022-01-01", "2023-01-01")]
    assert spans("What did Jon do on 3 March?") == [("on 3 March", "day", "2023-03-03", "2023-03-04")]
    # "now" is the store's, not the clock's: the same words a year later are another window
    assert spans("What did I do last week?", datetime(2024, 8, 1, tzinfo=UTC))[0][2] == "2024-07-25"


def test_what_is_no_time_is_left_alone():
    assert spans("When did Caroline go to the LGBTQ support group?") == []
    assert spans("Who may come to the party?") == []  # the modal "may" is no month
    assert spans("What did we discuss?") == []  # dateparser reads "we" as a weekday
    assert spans("What did we do two days before the trip?") == []  # relative to an event whose date is unknown
    assert not plausible("we") and not plausible("may") and plausible("May") and plausible("in 2023")


async def test_a_named_time_boosts_records_in_it_and_filters_nothing(store):
    scope = MemoryScope(user_id="u", session_id="s")
    texts = {
        datetime(2023, 5, 14, tzinfo=UTC): "We went hiking in the hills with the kids.",
        datetime(2023, 6, 20, tzinfo=UTC): "We went hiking by the lake with the dog.",
        datetime(2023, 7, 30, tzinfo=UTC): "Work was busy, nothing else happened.",
    }
    stored = await store.add(
        [MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope, event_time=when) for when, t in texts.items()]
    )
    may, june = stored[0], stored[1]
    hits = await store.search("Where did we go hiking in May?", MemoryScope(user_id="u"), limit=3)
    assert hits[0].record.id == may.id
    assert any("in the query's 'in May' = 2023-05-01..2023-05-31" in r for r in hits[0].reasons)
    assert june.id in [h.record.id for h in hits]  # a boost, not a filter
    hits = await store.search("Where did we go hiking in June?", MemoryScope(user_id="u"), limit=3)
    assert hits[0].record.id == june.id
    store.settings.memory.time_weight = 0.0
    hits = await store.search("Where did we go hiking in June?", MemoryScope(user_id="u"), limit=3)
    assert not any("in the query's" in r for h in hits for r in h.reasons)
