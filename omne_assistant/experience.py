"""The self-evolution loop's memory: recall past `experience` records before planning, store one after a task.

Each task leaves an L0 `event` record (the trace) and an L1 `experience` record (what worked, what
failed, the lesson) that cites the trace, in the agent's own scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from autogen_core.memory import MemoryContent, MemoryMimeType

if TYPE_CHECKING:
    from omne_core.memory import MemoryScope, MemoryStoreAPI, SearchHit

    from .planning import Lesson


async def recall_experiences(
    store: MemoryStoreAPI, scopes: Sequence[MemoryScope], task: str, limit: int = 3
) -> list[SearchHit]:
    """Past experiences most relevant to `task` (active ones only, within `scopes`)."""
    from omne_core.memory import MemoryKind

    return list(await store.search(task, list(scopes), kinds=[MemoryKind.EXPERIENCE], limit=limit))


def experiences_prompt(hits: Sequence[SearchHit]) -> str:
    """The recalled experiences as a prompt section (empty when there are none)."""
    if not hits:
        return ""
    lines = ["Lessons from similar past tasks:"]
    lines += [f"- [{hit.record.id[:8]}] {hit.record.text}" for hit in hits]
    return "\n".join(lines)


def hits_as_memory_contents(
    hits: Sequence[SearchHit], sources_under: Mapping[str, Sequence[str]] | None = None
) -> list[MemoryContent]:
    """Search hits as AutoGen `MemoryContent`, carrying record id, kind and score in metadata, and under "sources"
    the id and text of the sources an L1 hit brought into the prompt (`MemoryContext.sources_under`)."""
    contents = []
    for hit in hits:
        metadata: dict[str, object] = {"id": hit.record.id, "kind": str(hit.record.kind), "score": round(float(hit.score), 4)}
        shown = set((sources_under or {}).get(hit.record.id, ()))
        if sources := [{"id": s.id, "text": s.text} for s in hit.sources if s.id in shown]:
            metadata["sources"] = sources
        contents.append(MemoryContent(content=hit.record.text, mime_type=MemoryMimeType.TEXT, metadata=metadata))
    return contents


async def store_experience(
    store: MemoryStoreAPI,
    scope: MemoryScope,
    *,
    task: str,
    status: str,
    trace: str,
    lesson: Lesson,
    used_ids: Sequence[str] = (),
) -> str:
    """Store the task trace (L0 event) and the experience (L1, citing the trace); return the experience id."""
    from omne_core.memory import MemoryKind, MemoryRecord

    event = MemoryRecord(
        kind=MemoryKind.EVENT,
        text=f"Task: {task}\nOutcome: {status}\nTrace:\n{trace}",
        scope=scope,
        metadata={"source": "reactive_responder"},
    )
    text = (
        f"Task: {task}\nOutcome: {status}\nWhat worked: {lesson.worked or '-'}\n"
        f"What failed: {lesson.failed or '-'}\nLesson: {lesson.lesson}"
    )
    experience = MemoryRecord(
        kind=MemoryKind.EXPERIENCE,
        text=text,
        payload={"task": task, "status": status, **lesson.model_dump(), "experiences_used": list(used_ids)},
        scope=scope,
        source_ids=[event.id],
        importance=0.7,
        metadata={"source": "reactive_responder"},
    )
    stored = await store.add([event, experience])
    return _id_of(stored, fallback=experience.id)


def _id_of(stored: object, fallback: str) -> str:
    """The id the store kept for the last record added (a duplicate keeps the existing record's id)."""
    if isinstance(stored, list | tuple) and stored:
        last = stored[-1]
        return str(getattr(last, "id", last))
    return fallback
