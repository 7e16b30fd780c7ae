"""Token-budgeted context: the best records packed under N tokens, with dates and sources, for prompts."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from ..records import MemoryRecord
from ..tokens import count_tokens, truncate_to_tokens
from .results import SearchHit

_MIN_TRUNCATED_TOKENS = 24  # a record cut shorter than this is not worth showing


class MemoryContext(BaseModel):
    """Prompt-ready memory text and the ids of the records it contains."""

    text: str
    record_ids: list[str] = Field(default_factory=list)
    tokens: int = 0


def format_record(record: MemoryRecord, text: str | None = None) -> str:
    """One line: `- [date] (kind; speaker; from: ids) text <id:...>`."""
    when = record.event_time or record.created_at
    tags = [record.kind.value]
    speaker = record.metadata.get("speaker")
    if speaker:
        tags.append(f"speaker: {speaker}")
    if record.source_ids:
        shown = ", ".join(sid[:8] for sid in record.source_ids[:4])
        more = f" +{len(record.source_ids) - 4}" if len(record.source_ids) > 4 else ""
        tags.append(f"from: {shown}{more}")
    text = " ".join((record.text if text is None else text).split())
    return f"- [{when:%Y-%m-%d}] ({'; '.join(tags)}) {text} <id:{record.id[:8]}>"


def build_context(
    hits: Sequence[SearchHit | MemoryRecord],
    max_tokens: int = 1500,
    *,
    header: str = "Relevant long-term memories (most relevant first):",
    model: str | None = None,
) -> MemoryContext:
    """Pack records in the given (relevance) order under `max_tokens`; a record that does not fit is skipped,
    except that the text of an over-long record is cut when enough budget is left."""
    if max_tokens <= 0 or not hits:
        return MemoryContext(text="", record_ids=[], tokens=0)
    lines: list[str] = []
    ids: list[str] = []
    used = count_tokens(header, model) + 1
    for hit in hits:
        record = hit.record if isinstance(hit, SearchHit) else hit
        line = format_record(record)
        cost = count_tokens(line, model) + 1
        if used + cost > max_tokens:
            room = max_tokens - used - (cost - count_tokens(record.text, model)) - 2
            if room < _MIN_TRUNCATED_TOKENS:
                continue
            line = format_record(record, truncate_to_tokens(record.text, room, model) + "…")
            cost = count_tokens(line, model) + 1
            if used + cost > max_tokens:
                continue
        lines.append(line)
        ids.append(record.id)
        used += cost
    if not lines:
        return MemoryContext(text="", record_ids=[], tokens=0)
    text = header + "\n" + "\n".join(lines)
    return MemoryContext(text=text, record_ids=ids, tokens=count_tokens(text, model))
