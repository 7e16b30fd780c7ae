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


def format_record(record: MemoryRecord, text: str | None = None, indent: str = "") -> str:
    """One line: `- [date] (kind; speaker; from: ids) text <id:...>` (`indent`: a source under its conclusion)."""
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
    return f"{indent}- [{when:%Y-%m-%d}] ({'; '.join(tags)}) {text} <id:{record.id[:8]}>"


class _Packer:
    """Lines under a token budget: a line that does not fit is skipped, or cut when enough budget is left."""

    def __init__(self, max_tokens: int, header: str, model: str | None) -> None:
        self.max_tokens, self.model = max_tokens, model
        self.used = count_tokens(header, model) + 1

    def line(self, record: MemoryRecord, indent: str = "") -> str | None:
        line = format_record(record, indent=indent)
        cost = count_tokens(line, self.model) + 1
        if self.used + cost > self.max_tokens:
            room = self.max_tokens - self.used - (cost - count_tokens(record.text, self.model)) - 2
            if room < _MIN_TRUNCATED_TOKENS:
                return None
            line = format_record(record, truncate_to_tokens(record.text, room, self.model) + "…", indent)
            cost = count_tokens(line, self.model) + 1
            if self.used + cost > self.max_tokens:
                return None
        self.used += cost
        return line


def build_context(
    hits: Sequence[SearchHit | MemoryRecord],
    max_tokens: int = 1500,
    *,
    header: str = "Relevant long-term memories (most relevant first):",
    model: str | None = None,
    with_sources: bool = True,
) -> MemoryContext:
    """Pack records in the given (relevance) order under `max_tokens`; a record that does not fit is skipped,
    except that the text of an over-long record is cut when enough budget is left.

    `with_sources`: the budget left after every hit is spent on the sources the L1 hits carry
    (`SearchHit.sources`), each shown indented under its conclusion, in the hits' order; a record is shown once.
    """
    if max_tokens <= 0 or not hits:
        return MemoryContext(text="", record_ids=[], tokens=0)
    packer = _Packer(max_tokens, header, model)
    packed: list[tuple[SearchHit | MemoryRecord, str]] = []
    for hit in hits:
        line = packer.line(hit.record if isinstance(hit, SearchHit) else hit)
        if line is not None:
            packed.append((hit, line))
    shown = {(h.record if isinstance(h, SearchHit) else h).id for h, _ in packed}
    under: dict[int, list[tuple[str, str]]] = {}  # packed position -> (source id, line)
    for position, (hit, _) in enumerate(packed):
        for source in hit.sources if with_sources and isinstance(hit, SearchHit) else ():
            if source.id not in shown and (line := packer.line(source, indent="  ")) is not None:
                shown.add(source.id)
                under.setdefault(position, []).append((source.id, line))
    if not packed:
        return MemoryContext(text="", record_ids=[], tokens=0)
    lines: list[str] = []
    ids: list[str] = []
    for position, (hit, line) in enumerate(packed):
        lines.append(line)
        ids.append((hit.record if isinstance(hit, SearchHit) else hit).id)
        for source_id, source_line in under.get(position, []):
            lines.append(source_line)
            ids.append(source_id)
    text = header + "\n" + "\n".join(lines)
    return MemoryContext(text=text, record_ids=ids, tokens=count_tokens(text, model))
