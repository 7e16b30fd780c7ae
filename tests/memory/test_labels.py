"""Labels on derived memory: a conclusion or a summary inherits the labels all its sources agree on (never Omne's
own per-record keys), so a search filtered by a label finds it and reaches its sources through it; consolidation
never merges records with other labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autogen_agentchat.messages import MultiModalMessage, TextMessage
from autogen_core import Image
from autogen_ext.models.replay import ReplayChatCompletionClient
from PIL import Image as PILImage

from omne_core.blobs import BlobStore
from omne_core.documents import (
    ConvertedDocument,
    DocumentKind,
    DocumentSection,
    chunk_document,
    chunks_to_records,
)
from omne_core.memory import MemoryKind, MemoryRecord, consolidate, reflect, summarize_session
from omne_core.memory.labels import labels, shared_labels
from omne_core.messages.memory import conversation_records
from tests.memory.test_reflection import SESSION, USER, conclusion, reflection


def msg(text: str, event_time: datetime | None = None, **labels) -> MemoryRecord:
    return MemoryRecord(kind=MemoryKind.MESSAGE, text=text, scope=SESSION, event_time=event_time,
                        metadata={"speaker": "alice", **labels})  # fmt: skip


async def test_omne_s_own_keys_on_messages_and_chunks_are_no_labels(tmp_path):
    picture = Image.from_pil(PILImage.new("RGB", (2, 2)))
    chat = [TextMessage(content="hello there", source="bob"),
            MultiModalMessage(content=["a tile", picture], source="bob")]  # fmt: skip
    records = await conversation_records(chat, SESSION, BlobStore(tmp_path / "blobs"))
    assert len(records) == 3 and all(labels(r.metadata) == {} for r in records)

    doc = ConvertedDocument.from_sections(source="notes.md", name="notes.md", kind=DocumentKind.TEXT,
                                          sections=[DocumentSection(text="alpha " * 400, source="notes.md")])  # fmt: skip
    ingest_keys = {"ingested_from": "/x/notes.md", "file_sha256": "ab" * 32, "document_kind": "text", "team": "red"}
    chunks = chunks_to_records(chunk_document(doc, 100, 10), SESSION, metadata=ingest_keys)
    assert len(chunks) > 1
    # what two chunks of one file share, and what a filter can ask for: the file and the user's label
    assert shared_labels(chunks) == {"source": "notes.md", "file_name": "notes.md", "document_kind": "text",
                                     "team": "red"}  # fmt: skip


def test_shared_labels_compare_as_a_filter_does():
    a = msg("a", project="apollo", n=2, tags=["x", "y"], flag=True, code="1", nested={"k": 1}, empty=None)
    b = msg("b", project="apollo", n=2.0, tags=["x", "y"], flag=True, code=1, nested={"k": 1}, empty=None)
    assert shared_labels([a, b]) == {"project": "apollo", "n": 2, "tags": ["x", "y"], "flag": True}
    c = msg("c", project="apollo", n=2, tags=["y", "x"], flag=1)
    assert shared_labels([a, c]) == {"project": "apollo", "n": 2}  # a list is ordered; True is not 1
    assert shared_labels([a, msg("d")]) == {} and shared_labels([]) == {}


async def test_a_conclusion_inherits_its_sources_shared_labels_and_serves_a_filtered_search_as_a_key(store):
    target, *_ = await store.add([
        msg("Finally signed the papers this morning, he comes home with us on Friday!", project="apollo", n=2),
        msg("The budget review for apollo is on Tuesday.", project="apollo", n=2.0),
        msg("Caroline said the animal shelter downtown needs volunteers.", project="zeus"),
        msg("We walked past the pet shop and looked at the goldfish.", project="apollo"),
    ])
    query = "Which pet did Caroline adopt from the animal shelter?"
    apollo = {"project": "apollo"}
    before = await store.search(query, USER, kinds=[MemoryKind.MESSAGE], metadata=apollo)
    assert not any("found through" in r for h in before for r in h.reasons)

    client = ReplayChatCompletionClient([reflection(
        conclusion("fact", "Caroline finally signed the papers to adopt a puppy from the animal shelter.", "S1"),
        conclusion("fact", "The apollo team reviews budgets on Tuesdays.", "S1", "S2"),
        conclusion("fact", "Caroline's projects need volunteers and budget reviews.", "S2", "S3"),
    )])
    result = await reflect(store, SESSION, client)
    got = {r.text.split()[1]: r.metadata for r in result.created}
    assert got["finally"] == {"project": "apollo", "n": 2, "derived_by": "reflect", "speakers": ["alice"]}
    assert got["apollo"] == {"project": "apollo", "n": 2, "derived_by": "reflect", "speakers": ["alice"]}
    assert got["projects"] == {"derived_by": "reflect", "speakers": ["alice"]}  # apollo and zeus disagree

    after = await store.search(query, USER, kinds=[MemoryKind.MESSAGE], metadata=apollo)
    [hit] = [h for h in after if h.record.id == target.id]
    assert any(r.startswith("found through fact") for r in hit.reasons)
    assert [h.record.id for h in after].index(target.id) < [h.record.id for h in before].index(target.id)
    zeus = await store.search(query, USER, metadata={"project": "zeus"})
    assert all(h.record.metadata.get("project") == "zeus" for h in zeus)  # the apollo conclusions stay out


async def test_a_summary_inherits_the_session_s_shared_labels(store):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    await store.add([msg(f"line {i}", event_time=start + timedelta(minutes=i), project="apollo", turn=i)
                     for i in range(3)])  # fmt: skip
    summary = await summarize_session(store, SESSION, ReplayChatCompletionClient(['{"summary": "Three lines."}']))
    assert summary.metadata == {"project": "apollo", "derived_by": "summarize", "messages": 3, "speakers": ["alice"]}


async def test_consolidation_never_merges_records_with_other_labels(store):
    src = await store.add([msg("a"), msg("b"), msg("c")])
    keep, other_label, same_label = await store.add([
        MemoryRecord(kind=MemoryKind.FACT, text="Alice has a dog named Rex", scope=USER, source_ids=[src[0].id],
                     importance=0.9, metadata={"project": "apollo"}),
        MemoryRecord(kind=MemoryKind.FACT, text="Alice has a dog called Rex", scope=USER, source_ids=[src[1].id],
                     importance=0.5, metadata={"project": "zeus"}),
        MemoryRecord(kind=MemoryKind.FACT, text="Alice has a dog named Rex!", scope=USER, source_ids=[src[2].id],
                     importance=0.4, metadata={"project": "apollo", "derived_by": "someone else"}),
    ])  # fmt: skip
    result = await consolidate(store, USER, threshold=0.9)
    assert [(g.kept, g.superseded) for g in result.groups] == [(keep.id, [same_label.id])]
    assert [r.id for r in await store.list(USER, kinds=[MemoryKind.FACT], metadata={"project": "zeus"})] == [
        other_label.id
    ]
