"""LLM operators: `reflect` derives L1 conclusions from L0 records, `summarize_session` writes a session summary.

The model sees records under short aliases (S1, S2, ... for sources; C1, C2, ... for existing conclusions)
and must answer JSON citing them. Output is validated completely before anything is written, so a
malformed answer raises `ReflectionError` and leaves the store unchanged. A contradicted conclusion is
superseded (status `superseded`, `superseded_by` set), never deleted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, SystemMessage, UserMessage
from pydantic import BaseModel, Field, ValidationError

from ..records import L0_KINDS, L1_KINDS, MemoryKind, MemoryRecord, MemoryScope
from ..tokens import count_tokens
from .errors import MemoryValidationError, ReflectionError
from .store import MemoryStore

REFLECT_SYSTEM_PROMPT = """You maintain a user's long-term memory. From the new observations, derive durable \
conclusions: facts, preferences, insights, profile traits or experiences worth remembering.
Rules:
- Cite the observations each conclusion comes from by their aliases (S1, S2, ...). Never invent aliases.
- If a conclusion contradicts or updates an existing conclusion (C1, C2, ...), list that alias in "supersedes".
- Do not repeat existing conclusions that are still true. Output nothing you cannot cite.
Answer with JSON only, in this form:
{"memories": [{"kind": "fact|preference|insight|profile|experience", "text": "...", "source_ids": ["S1"], \
"importance": 0.5, "confidence": 0.9, "supersedes": []}]}"""

SUMMARY_SYSTEM_PROMPT = """Summarize the conversation below for long-term memory: who took part, what was \
said or decided, facts learnt about the user, open questions. Be concise and factual.
Answer with JSON only, in this form: {"summary": "..."}"""


class _Conclusion(BaseModel):
    kind: MemoryKind
    text: str = Field(min_length=1)
    source_ids: list[str] = Field(min_length=1)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    supersedes: list[str] = Field(default_factory=list)


class _ReflectionOutput(BaseModel):
    memories: list[_Conclusion]


class _SummaryOutput(BaseModel):
    summary: str = Field(min_length=1)


class ReflectionResult(BaseModel):
    """What a reflection wrote: new L1 records and (old id, new id) supersessions."""

    created: list[MemoryRecord] = Field(default_factory=list)
    superseded: list[tuple[str, str]] = Field(default_factory=list)
    source_ids: list[str] = Field(default_factory=list)  # the L0 records shown to the model


def _single_scope(scope: Any) -> MemoryScope:
    if not isinstance(scope, MemoryScope):
        raise MemoryValidationError(f"scope must be a MemoryScope, got {type(scope).__name__}")
    return scope


def _line(alias: str, record: MemoryRecord) -> str:
    when = (record.event_time or record.created_at).strftime("%Y-%m-%d")
    speaker = record.metadata.get("speaker")
    who = f" {speaker}:" if speaker else ""
    return f"[{alias}] ({when}, {record.kind.value}){who} {' '.join(record.text.split())}"


def speakers_metadata(sources: Sequence[MemoryRecord]) -> dict[str, Any]:
    """`{"speakers": [...]}`: who said the records a conclusion is drawn from (ranking's speaker prior reads it)."""
    speakers = sorted({s for r in sources if isinstance(s := r.metadata.get("speaker"), str) and s.strip()})
    return {"speakers": speakers} if speakers else {}


def extract_json(text: str) -> Any:
    """The JSON object in a model answer (bare, or in a ``` fence). Raises ValueError when there is none."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    candidate = fenced.group(1) if fenced else text
    start, end = candidate.find("{"), candidate.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the model output")
    return json.loads(candidate[start : end + 1])


async def _complete(
    model_client: ChatCompletionClient, system: str, user: str, cancellation_token: CancellationToken | None
) -> str:
    result = await model_client.create(
        [SystemMessage(content=system), UserMessage(content=user, source="user")],
        cancellation_token=cancellation_token,
    )
    if not isinstance(result.content, str):
        raise ReflectionError("the model answered with a function call instead of text", raw_output=str(result.content))
    return result.content


async def _unreflected(store: MemoryStore, scope: MemoryScope, conclusion_scope: MemoryScope, limit: int) -> list[MemoryRecord]:
    """Recent active L0 records of the scope that no conclusion cites yet (oldest first)."""
    cited: set[str] = set()
    for record in await store.list(conclusion_scope, kinds=sorted(L1_KINDS), limit=None, include_inactive=True):
        cited.update(record.source_ids)
    recent = await store.list(scope, kinds=sorted(L0_KINDS), limit=limit + len(cited))
    return [r for r in reversed(recent) if r.id not in cited][-limit:]


async def reflect(
    store: MemoryStore,
    scope: MemoryScope,
    model_client: ChatCompletionClient,
    *,
    records: Sequence[MemoryRecord] | None = None,
    limit: int = 50,
    max_conclusions_shown: int = 50,
    actor: str = "reflect",
    cancellation_token: CancellationToken | None = None,
) -> ReflectionResult:
    """Derive L1 records from L0 records (default: recent ones not yet reflected on), citing their sources.

    Conclusions are stored in the scope without its session (they outlive the session).
    """
    scope = _single_scope(scope)
    conclusion_scope = scope.model_copy(update={"session_id": None})
    sources = list(records) if records is not None else await _unreflected(store, scope, conclusion_scope, limit)
    if not sources:
        return ReflectionResult()
    existing = await store.list(conclusion_scope, kinds=sorted(L1_KINDS), limit=max_conclusions_shown)
    source_alias = {f"S{i}": r for i, r in enumerate(sources, 1)}
    conclusion_alias = {f"C{i}": r for i, r in enumerate(existing, 1)}
    prompt = "New observations:\n" + "\n".join(_line(a, r) for a, r in source_alias.items())
    prompt += "\n\nExisting conclusions:\n" + (
        "\n".join(_line(a, r) for a, r in conclusion_alias.items()) if conclusion_alias else "(none)"
    )

    raw = await _complete(model_client, REFLECT_SYSTEM_PROMPT, prompt, cancellation_token)
    try:
        output = _ReflectionOutput.model_validate(extract_json(raw))
    except (ValueError, ValidationError) as exc:
        raise ReflectionError(f"malformed reflection output: {exc}", raw_output=raw) from None

    def resolve(alias: str, table: dict[str, MemoryRecord], what: str) -> MemoryRecord:
        record = table.get(alias.strip()) or next((r for r in table.values() if r.id == alias.strip()), None)
        if record is None:
            raise ReflectionError(f"the model cited an unknown {what} {alias!r}", raw_output=raw)
        return record

    planned: list[tuple[MemoryRecord, list[MemoryRecord]]] = []
    for item in output.memories:
        if item.kind not in L1_KINDS or item.kind is MemoryKind.SUMMARY:
            raise ReflectionError(f"reflection may only derive fact/preference/insight/profile/experience, got {item.kind.value!r}", raw_output=raw)
        cited = [resolve(a, source_alias, "source") for a in item.source_ids]
        replaced = [resolve(a, conclusion_alias, "conclusion") for a in item.supersedes]
        times = [r.event_time or r.created_at for r in cited]
        record = MemoryRecord(
            kind=item.kind,
            text=item.text.strip(),
            scope=conclusion_scope,
            source_ids=list(dict.fromkeys(r.id for r in cited)),
            event_time=max(times),
            importance=item.importance,
            confidence=item.confidence,
            metadata={"derived_by": actor, **speakers_metadata(cited)},
        )
        planned.append((record, replaced))
    if not planned:
        return ReflectionResult(source_ids=[r.id for r in sources])

    # One transaction: the new conclusions and the supersession of those they contradict land together.
    stored = await store.add_superseding(
        [(record, [old.id for old in replaced]) for record, replaced in planned], actor=actor
    )
    result = ReflectionResult(created=[], source_ids=[r.id for r in sources])
    for new, superseded in stored:
        if new not in result.created:
            result.created.append(new)
        result.superseded.extend((old_id, new.id) for old_id in superseded)
    return result


async def summarize_session(
    store: MemoryStore,
    scope: MemoryScope,
    model_client: ChatCompletionClient,
    *,
    max_input_tokens: int = 6000,
    actor: str = "summarize",
    cancellation_token: CancellationToken | None = None,
) -> MemoryRecord:
    """Summarize a session's raw records into one `summary` record citing them; it supersedes the previous one.

    The model answers JSON (`{"summary": ...}`) so that an echo or ramble is rejected rather than stored.
    """
    scope = _single_scope(scope)
    if scope.session_id is None:
        raise MemoryValidationError("summarize_session needs a scope with a session_id")
    messages = await store.list(scope, kinds=sorted(L0_KINDS), limit=None, oldest_first=True)
    if not messages:
        raise MemoryValidationError(f"session {scope.session_id!r} has no records to summarize")
    lines: list[str] = []
    used = 0
    for record in reversed(messages):  # the most recent part of the session that fits the budget
        line = _line("", record)[3:]
        used += count_tokens(line) + 1
        if used > max_input_tokens and lines:
            break
        lines.append(line)
    shown = messages[len(messages) - len(lines):]
    raw = await _complete(model_client, SUMMARY_SYSTEM_PROMPT, "\n".join(reversed(lines)), cancellation_token)
    try:
        text = _SummaryOutput.model_validate(extract_json(raw)).summary.strip()
    except (ValueError, ValidationError) as exc:
        raise ReflectionError(f"malformed summary output: {exc}", raw_output=raw) from None
    if not text:
        raise ReflectionError("the model returned an empty summary", raw_output=raw)
    previous = await store.list(scope, kinds=[MemoryKind.SUMMARY], limit=None)
    [(summary, _)] = await store.add_superseding(
        [(MemoryRecord(
            kind=MemoryKind.SUMMARY,
            text=text,
            scope=scope,
            source_ids=[r.id for r in shown],
            event_time=shown[-1].event_time or shown[-1].created_at,
            importance=0.6,
            metadata={"derived_by": actor, "messages": len(shown), **speakers_metadata(shown)},
        ), [old.id for old in previous])],
        actor=actor,
    )
    return summary
