"""Token-budgeted context: the best records packed under N tokens, with dates and sources, for prompts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

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
    # per L1 hit, the ids of the sources shown indented under it (each source once, under the first hit carrying it)
    sources_under: dict[str, list[str]] = Field(default_factory=dict)


def format_record(
    record: MemoryRecord,
    text: str | None = None,
    indent: str = "",
    *,
    under: MemoryRecord | None = None,
    shown_below: Collection[str] = (),
) -> str:
    """One line: `- [date] (kind; speaker; from: ids) text <id:...>` (`indent`: a source under its conclusion).

    A source shown under its conclusion (`under`) leaves out the date when it is the conclusion's day, and a
    conclusion leaves out of `from:` the sources shown under it (`shown_below`): the nesting says it already."""
    when = record.event_time or record.created_at
    tags = [record.kind.value]
    speaker = record.metadata.get("speaker")
    if speaker:
        tags.append(f"speaker: {speaker}")
    cited = [sid for sid in record.source_ids if sid not in shown_below]
    if cited:
        shown = ", ".join(sid[:8] for sid in cited[:4])
        more = f" +{len(cited) - 4}" if len(cited) > 4 else ""
        tags.append(f"from: {shown}{more}")
    text = " ".join((record.text if text is None else text).split())
    same_day = under is not None and (under.event_time or under.created_at).date() == when.date()
    date = "" if same_day else f"[{when:%Y-%m-%d}] "
    return f"{indent}- {date}({'; '.join(tags)}) {text} <id:{record.id[:8]}>"


class _Line(NamedTuple):
    """A packed line and the text it shows when that is cut (None: the record's whole text)."""

    line: str
    cut: str | None = None


class _Packer:
    """Lines under a token budget: a line that does not fit is skipped, or cut when enough budget is left."""

    def __init__(self, max_tokens: int, header: str, model: str | None) -> None:
        self.max_tokens, self.model = max_tokens, model
        self.used = count_tokens(header, model) + 1

    def line(self, record: MemoryRecord, indent: str = "", under: MemoryRecord | None = None) -> _Line | None:
        line = format_record(record, indent=indent, under=under)
        cost = count_tokens(line, self.model) + 1
        cut = None
        if self.used + cost > self.max_tokens:
            room = self.max_tokens - self.used - (cost - count_tokens(record.text, self.model)) - 2
            if room < _MIN_TRUNCATED_TOKENS:
                return None
            cut = truncate_to_tokens(record.text, room, self.model) + "…"
            line = format_record(record, cut, indent, under=under)
            cost = count_tokens(line, self.model) + 1
            if self.used + cost > self.max_tokens:
                return None
        self.used += cost
        return _Line(line, cut)


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
    Lines are costed as `format_record` writes them alone; the nesting then drops what it makes redundant.
    """
    if max_tokens <= 0 or not hits:
        return MemoryContext(text="", record_ids=[], tokens=0)
    packer = _Packer(max_tokens, header, model)
    packed: list[tuple[MemoryRecord, Sequence[MemoryRecord], _Line]] = []  # hit record, its sources, its line
    for hit in hits:
        record, sources = (hit.record, hit.sources) if isinstance(hit, SearchHit) else (hit, [])
        if (line := packer.line(record)) is not None:
            packed.append((record, sources if with_sources else [], line))
    if not packed:
        return MemoryContext(text="", record_ids=[], tokens=0)
    shown = {record.id for record, _, _ in packed}
    under: dict[int, list[tuple[str, str]]] = {}  # packed position -> (source id, line)
    for position, (conclusion, carried, _) in enumerate(packed):
        for source in carried:
            if source.id not in shown and (packed_source := packer.line(source, "  ", under=conclusion)) is not None:
                shown.add(source.id)
                under.setdefault(position, []).append((source.id, packed_source.line))
    lines: list[str] = []
    counted: list[str] = []  # the lines as the budget counted them (full `from:` tags)
    ids: list[str] = []
    for position, (hit_record, _, hit_line) in enumerate(packed):
        below = [source_id for source_id, _ in under.get(position, [])]
        lines.append(format_record(hit_record, hit_line.cut, shown_below=below) if below else hit_line.line)
        counted.append(hit_line.line)
        ids.append(hit_record.id)
        for source_id, source_line in under.get(position, []):
            lines.append(source_line)
            counted.append(source_line)
            ids.append(source_id)
    text = header + "\n" + "\n".join(lines)
    tokens = count_tokens(text, model)
    # naming fewer sources shortens a line; should the tokenizer disagree, keep the lines as they were counted
    if tokens > max_tokens:
        text = header + "\n" + "\n".join(counted)
        tokens = count_tokens(text, model)
    sources_under = {packed[p][0].id: [source_id for source_id, _ in shown_under] for p, shown_under in under.items()}
    return MemoryContext(text=text, record_ids=ids, tokens=tokens, sources_under=sources_under)
