"""Time expressions in queries: read by dateparser relative to the store's own time, a boost never a filter."""

from __future__ import annotations

from datetime import UTC, datetime

from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope
from omne_core.memory.timequery import asks_when, find_windows, plausible, query_windows, time_word

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
    assert spans("What did we do two days before the trip?") == []  # relative to an event: `query_windows` reads it
    assert not plausible("we") and not plausible("may") and plausible("May") and plausible("in 2023")


async def add_dated(store, texts: dict[datetime, str]) -> list[MemoryRecord]:
    """One session's messages, each at its time."""
    scope = MemoryScope(user_id="u", session_id="s")
    return await store.add(
        [MemoryRecord(kind=MemoryKind.MESSAGE, text=t, scope=scope, event_time=when) for when, t in texts.items()]
    )


async def test_a_named_time_boosts_records_in_it_and_filters_nothing(store):
    may, june, _ = await add_dated(store, {
        datetime(2023, 5, 14, tzinfo=UTC): "We went hiking in the hills with the kids.",
        datetime(2023, 6, 20, tzinfo=UTC): "We went hiking by the lake with the dog.",
        datetime(2023, 7, 30, tzinfo=UTC): "Work was busy, nothing else happened.",
    })  # fmt: skip
    hits = await store.search("Where did we go hiking in May?", MemoryScope(user_id="u"), limit=3)
    assert hits[0].record.id == may.id
    assert any("in the query's 'in May' = 2023-05-01..2023-05-31" in r for r in hits[0].reasons)
    assert june.id in [h.record.id for h in hits]  # a boost, not a filter
    hits = await store.search("Where did we go hiking in June?", MemoryScope(user_id="u"), limit=3)
    assert hits[0].record.id == june.id
    store.settings.memory.time_weight = 0.0
    hits = await store.search("Where did we go hiking in June?", MemoryScope(user_id="u"), limit=3)
    assert not any("in the query's" in r for h in hits for r in h.reasons)


async def anchored(query: str, locate=None) -> list[tuple[str, str, str, str | None]]:
    async def newest() -> datetime:
        return NOW

    last = lambda w: w.end.replace(hour=0) if w.end.hour == 0 else w.end  # noqa: E731
    return [(w.expression, f"{w.start:%Y-%m-%d}", f"{last(w):%Y-%m-%d}", w.anchor)
            for w in await query_windows(query, newest, locate)]  # fmt: skip


async def test_an_expression_relative_to_a_date_runs_from_that_date_back_or_forward():
    """The window reaches from the anchor date by the amount (anchor day included: a record dated that day may tell
    of it); the date itself is not read again as a window of its own."""
    assert await anchored("What is the name of the puppy she got two weeks before August 11, 2023?") == [
        ("two weeks before August 11, 2023", "2023-07-28", "2023-08-12", None)
    ]
    assert await anchored("What did John do the week before August 3, 2023 involving his kids?") == [
        ("the week before August 3, 2023 involving his kids", "2023-07-27", "2023-08-04", None)
    ]
    assert await anchored("What did we do a couple of days after 3 March 2023?") == [
        ("a couple of days after 3 March 2023", "2023-03-03", "2023-03-06", None)
    ]
    # no amount: a month either way
    assert (await anchored("What happened after 3 March 2023?"))[0][1:3] == ("2023-03-03", "2023-04-02")
    # an event anchor without a way to find it is dropped, the rest of the query still read
    assert await anchored("What did we do two days before the trip in May 2023?") == [
        ("in May 2023", "2023-05-01", "2023-06-01", None)
    ]


async def test_an_event_anchor_is_located_by_the_store(store):
    """"A week after the road trip": the road trip is the record that tells of it; records in the week after it are
    boosted, with the anchor in the reason. An event no record mentions anchors nothing."""
    _, trip, mountains, _ = await add_dated(store, {
        datetime(2023, 3, 1, tzinfo=UTC): "We hiked a trail in the forest.",
        datetime(2023, 5, 7, tzinfo=UTC): "We are back from the road trip along the coast.",
        datetime(2023, 5, 10, tzinfo=UTC): "We hiked a trail in the mountains.",
        datetime(2023, 7, 1, tzinfo=UTC): "We hiked a trail by the lake.",
    })  # fmt: skip
    hits = await store.search("Where did we hike a week after the road trip?", MemoryScope(user_id="u"), limit=4)
    assert hits[0].record.id == mountains.id
    reason = next(r for r in hits[0].reasons if "in the query's" in r)
    assert "'a week after the road trip' = 2023-05-07..2023-05-14" in reason
    assert f"'the road trip' on 2023-05-07 (record {trip.id[:8]})" in reason
    assert len(hits) == 4  # a boost, not a filter
    hits = await store.search("Where did we hike a week after the wedding?", MemoryScope(user_id="u"), limit=4)
    assert not any("in the query's" in r for h in hits for r in h.reasons)


async def test_an_event_is_located_only_within_the_searched_scope(store):
    """Another user's road trip never anchors this user's question (randomized users and dates)."""
    import random

    rng = random.Random()
    owner, other = f"u{rng.randrange(10**6)}", f"v{rng.randrange(10**6)}"
    day = datetime(2023, rng.randrange(1, 12), rng.randrange(1, 28), tzinfo=UTC)
    await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text="Back from the road trip!", scope=MemoryScope(
        user_id=owner), event_time=day))  # fmt: skip
    await store.add(MemoryRecord(kind=MemoryKind.MESSAGE, text="We hiked a trail.", scope=MemoryScope(user_id=other),
                                 event_time=day))  # fmt: skip
    hits = await store.search("Where did we hike after the road trip?", MemoryScope(user_id=other))
    assert [h.record.scope.user_id for h in hits] == [other]
    assert not any("road trip" in r for h in hits for r in h.reasons)
    hits = await store.search("What did we do after the road trip?", MemoryScope(user_id=owner))
    assert any(f"on {day:%Y-%m-%d}" in r for h in hits for r in h.reasons)


def test_when_questions_and_time_words():
    assert asks_when("When did Caroline go to the support group?") and asks_when("what year did she move?")
    assert asks_when("So when was the wedding?") and not asks_when("Where did she go?")
    assert time_word("I went there yesterday!") == "yesterday" and time_word("Back in 2019 it rained") == "2019"
    assert time_word("We have 2 kids") is None and time_word("It was lovely") is None


async def test_a_when_question_favours_records_that_name_a_time(store):
    scope = MemoryScope(user_id="u", session_id="s")
    dated, undated = await store.add([
        MemoryRecord(kind=MemoryKind.MESSAGE, text="I went to the support group yesterday.", scope=scope),
        MemoryRecord(kind=MemoryKind.MESSAGE, text="I went to the support group, it was powerful.", scope=scope),
    ])  # fmt: skip
    store.settings.memory.when_weight = 0.3
    hits = await store.search("When did I go to the support group?", MemoryScope(user_id="u"))
    assert hits[0].record.id == dated.id
    assert "names a time ('yesterday') and the query asks when +0.30" in hits[0].reasons
    hits = await store.search("Did I go to the support group?", MemoryScope(user_id="u"))
    assert not any("asks when" in r for h in hits for r in h.reasons)
    store.settings.memory.when_weight = 0.0
    hits = await store.search("When did I go to the support group?", MemoryScope(user_id="u"))
    assert not any("asks when" in r for h in hits for r in h.reasons)
