"""LLM operators: `reflect` derives L1 conclusions from L0 records, `summarize_session` writes a session summary.

The model sees records under short aliases (S1, S2, ... for sources; C1, C2, ... for existing conclusions)
and answers a JSON object whose schema lists exactly those aliases, with bounded lists and texts. The call
takes the shared structured-output path (`omne_core.models.create_structured`): constrained by the schema
where the client can (llama.cpp grammar, OpenAI structured outputs), transient faults and malformed replies
retried, and a reply that stays malformed raises `ReflectionError` with the store unchanged. A contradicted
conclusion is superseded (status `superseded`, `superseded_by` set), never deleted. A conclusion inherits the
labels its sources agree on (`labels.shared_labels`), so a metadata filter finds it.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from autogen_core import CancellationToken
from autogen_core.models import AssistantMessage, ChatCompletionClient, LLMMessage, SystemMessage, UserMessage
from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from ..models.faults import ModelFaultError, ModelFaultKind, RetryPolicy
from ..models.structured import create_structured
from ..records import L0_KINDS, L1_KINDS, MemoryKind, MemoryRecord, MemoryScope
from ..tokens import count_tokens
from .backends.lexical_tokens import token_counts
from .errors import MemoryValidationError, ReflectionError
from .indexing import STOP_WORDS, speakers_of
from .labels import shared_labels
from .results import ReflectionResult
from .store_access import MemoryStoreAPI

REFLECT_SYSTEM_PROMPT = """You maintain a user's long-term memory. From the new observations, derive durable \
conclusions: facts, preferences, insights, profile traits or experiences worth remembering.
Rules:
- Cite the observations each conclusion comes from by their aliases (S1, S2, ...). Never invent aliases.
- If a conclusion contradicts or updates an existing conclusion (C1, C2, ...), list that alias in "supersedes".
- Do not repeat existing conclusions that are still true. Output nothing you cannot cite.
Answer with JSON only: {"memories": [{"kind": "fact|preference|insight|profile|experience", "text": "...", \
"source_ids": ["S1"], "supersedes": [], "importance": 0.5, "confidence": 0.9}]}"""

# One worked example, shown as an earlier exchange: small models follow an example far better than rules.
# A conclusion that merely copies it is dropped; a reply of nothing but copies is sent back.
EXAMPLE_OBSERVATIONS = """New observations:
[S1] (2024-05-02, message) user: Thanks, that's all for today.
[S2] (2024-05-02, message) user: I work as a baker in Porto and I prefer tea to coffee.

Existing conclusions:
(none)"""
EXAMPLE_CONCLUSIONS = (  # nothing from S1: not every observation is worth remembering
    ("fact", "The user works as a baker in Porto.", "S2"),
    ("preference", "The user prefers tea to coffee.", "S2"),
)
EXAMPLE_ANSWER = json.dumps(
    {"memories": [
        {"kind": kind, "text": text, "source_ids": [alias], "supersedes": [], "importance": 0.6, "confidence": 0.9}
        for kind, text, alias in EXAMPLE_CONCLUSIONS
    ]}
)  # fmt: skip

SUMMARY_SYSTEM_PROMPT = """Summarize the conversation below for long-term memory: who took part, what was \
said or decided, facts learnt about the user, open questions. Be concise and factual.
Answer with JSON only: an object whose one key, "summary", holds the summary as a string."""

DERIVED_KINDS = ("fact", "preference", "insight", "profile", "experience")  # what reflection may write
MAX_CONCLUSIONS = 12
MAX_CONCLUSION_CHARS = 400
MAX_SUMMARY_CHARS = 1000
_CLAUSE_END = re.compile(r"[.!?,;:]+(?:\s+|$)")


def _wordless(text: str) -> bool:
    """A text with no letter or digit ("...", "—"): what a weak model writes when it has nothing to say."""
    return not any(ch.isalnum() for ch in text)


def _loop(text: str) -> tuple[str, int] | None:
    """A clause of three or more words that the text says three times or more, and how often: a small model caught
    in a loop ("I'm allergic to peanuts. I'm allergic to peanuts. ...", "the day before yesterday, the day ...")."""
    clauses = (clause.casefold().split() for clause in _CLAUSE_END.split(text))
    seen = Counter(" ".join(words) for words in clauses if len(words) >= 3)
    said, times = max(seen.items(), key=lambda item: item[1], default=("", 0))
    return (said, times) if times >= 3 else None


class SessionSummary(BaseModel):
    """What `summarize_session` asks the model for (its name is what a malformed reply's error names)."""

    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)

    @field_validator("summary")
    @classmethod
    def _worded_not_looping(cls, summary: str) -> str:
        if summary.strip() and _wordless(summary):  # a blank one is refused after parsing, as before
            raise ValueError("the summary holds no word")
        if (loop := _loop(summary)) is not None:
            raise ValueError(f"the summary repeats itself: {loop[0]!r} {loop[1]} times")
        return summary


def reflection_schema(sources: int, conclusions: int) -> type[BaseModel]:
    """The JSON schema of one reflection: `kind` among the derivable kinds, `source_ids` among S1..S{sources},
    `supersedes` among C1..C{conclusions}, lists and texts bounded."""
    source_alias: Any = Literal[tuple(f"S{i}" for i in range(1, sources + 1))]
    fields: dict[str, Any] = {
        "kind": (Literal[DERIVED_KINDS], ...),
        "text": (str, Field(min_length=3, max_length=MAX_CONCLUSION_CHARS)),
        "source_ids": (list[source_alias], Field(min_length=1, max_length=min(sources, 8))),
    }
    if conclusions:
        conclusion_alias: Any = Literal[tuple(f"C{i}" for i in range(1, conclusions + 1))]
        fields["supersedes"] = (list[conclusion_alias], Field(max_length=min(conclusions, 4)))
    else:
        fields["supersedes"] = (list[Annotated[str, Field(max_length=8)]], Field(max_length=0))  # nothing to supersede
    fields["importance"] = (float, Field(ge=0.0, le=1.0))
    fields["confidence"] = (float, Field(ge=0.0, le=1.0))
    conclusion = create_model("Conclusion", **fields)
    return create_model(
        "Reflection",
        memories=(list[conclusion], Field(max_length=min(MAX_CONCLUSIONS, 2 * sources))),  # type: ignore[valid-type]
        __validators__={"not_only_the_example": model_validator(mode="after")(_not_only_the_example)},  # type: ignore[dict-item]
    )


def _not_only_the_example(output: Any) -> Any:
    """A reply made only of the prompt's example is no reflection: sent back like any invalid reply.
    (Single copies beside real conclusions are dropped later and reported.)"""
    if output.memories and all(_copies_example(item.text) for item in output.memories):
        raise ValueError("these conclusions copy the example; derive them from the new observations")
    return output


def _single_scope(scope: Any) -> MemoryScope:
    if not isinstance(scope, MemoryScope):
        raise MemoryValidationError(f"scope must be a MemoryScope, got {type(scope).__name__}")
    return scope


def _session_scope(scope: Any) -> MemoryScope:
    single = _single_scope(scope)
    if single.session_id is None:
        raise MemoryValidationError("summarize_session needs a scope with a session_id")
    return single


def _line(alias: str, record: MemoryRecord) -> str:
    when = (record.event_time or record.created_at).strftime("%Y-%m-%d")
    speaker = record.metadata.get("speaker")
    who = f" {speaker}:" if speaker else ""
    return f"[{alias}] ({when}, {record.kind.value}){who} {' '.join(record.text.split())}"


def speakers_metadata(sources: Sequence[MemoryRecord]) -> dict[str, Any]:
    """`{"speakers": [...]}`: who said the records a conclusion is drawn from (ranking's speaker prior reads it)."""
    speakers = sorted({s for r in sources if isinstance(s := r.metadata.get("speaker"), str) and s.strip()})
    return {"speakers": speakers} if speakers else {}


async def _structured(
    model_client: ChatCompletionClient,
    messages: list[LLMMessage],
    schema: type[Any],
    what: str,
    policy: RetryPolicy | None,
    cancellation_token: CancellationToken | None,
    create_args: Mapping[str, Any] | None = None,
) -> Any:
    """The shared structured path; a reply that stays malformed becomes `ReflectionError` (store unchanged),
    other model faults (rate limit, timeout, ... after their retries) propagate as `ModelFaultError`."""
    try:
        return await create_structured(model_client, messages, schema, policy=policy, extra_create_args=create_args,
                                       cancellation_token=cancellation_token)  # fmt: skip
    except ModelFaultError as exc:
        if exc.kind is not ModelFaultKind.MALFORMED_OUTPUT:
            raise
        raise ReflectionError(
            f"malformed {what} output after {exc.attempts} attempt(s): {exc.detail}", raw_output=exc.raw_output
        ) from exc


def shared_stems(conclusion: str, sources: Sequence[MemoryRecord]) -> list[int]:
    """For each source, how many stems (the lexical index's Porter stems) of the conclusion's words it holds, leaving
    out stop words, "user" and the sources' speakers: a turn written "sam: ..." shares "sam" with every conclusion
    about Sam, which says nothing about where the conclusion comes from."""
    names = " ".join(name for r in sources for name in speakers_of(r))
    own, ignored, *texts = token_counts([conclusion, f"user {names}", *(r.text for r in sources)])
    kept = own.keys() - ignored.keys() - _stop_stems()
    return [len(kept & counts.keys()) for counts in texts]


@functools.cache
def _stop_stems() -> frozenset[str]:
    """The stop words as Porter stems ("was" is "wa" to the tokenizer)."""
    return frozenset(token_counts([" ".join(sorted(STOP_WORDS))])[0])


def _recite(text: str, cited: list[MemoryRecord], shown: Sequence[MemoryRecord]) -> list[MemoryRecord] | None:
    """Better sources for a conclusion whose cited sources share no word with it, when other shown sources do:
    those sharing the most (a model citing the wrong alias is common, and a wrong link misleads provenance).
    None when the citation stands: a source shares a word, or no shown source does (an inference in other words)."""
    overlap = dict(zip((r.id for r in shown), shared_stems(text, shown), strict=True))
    if any(overlap[r.id] for r in cited) or not (best := max(overlap.values())):
        return None
    return [r for r in shown if overlap[r.id] == best][: len(cited)]


def _copies_example(text: str) -> bool:
    flat = " ".join(text.split()).casefold()
    return any(flat == example.casefold() for _, example, _ in EXAMPLE_CONCLUSIONS)


async def unreflected(store: MemoryStoreAPI, scope: MemoryScope, limit: int = 50) -> list[MemoryRecord]:
    """Recent active L0 records of the scope that no conclusion cites yet (oldest first): what `reflect` reads by
    default. A caller can ask before it loads a model (nothing here means no model call)."""
    scope = _single_scope(scope)
    cited: set[str] = set()
    conclusion_scope = scope.model_copy(update={"session_id": None})
    for record in await store.list(conclusion_scope, kinds=sorted(L1_KINDS), limit=None, include_inactive=True):
        cited.update(record.source_ids)
    recent = await store.list(scope, kinds=sorted(L0_KINDS), limit=limit + len(cited))
    return [r for r in reversed(recent) if r.id not in cited][-limit:]


async def reflect(
    store: MemoryStoreAPI,
    scope: MemoryScope,
    model_client: ChatCompletionClient,
    *,
    records: Sequence[MemoryRecord] | None = None,
    limit: int = 50,
    max_conclusions_shown: int = 50,
    actor: str = "reflect",
    policy: RetryPolicy | None = None,
    cancellation_token: CancellationToken | None = None,
) -> ReflectionResult:
    """Derive L1 records from L0 records (default: recent ones not yet reflected on), citing their sources.

    Conclusions are stored in the scope without its session (they outlive the session). One whose cited sources
    share no word with it while other shown sources do cites those instead (`ReflectionResult.recited`). Raises
    `ReflectionError` when the model's reply stays malformed after `policy`'s attempts, `ModelFaultError`
    when the model cannot be reached; either way nothing is written.
    """
    scope = _single_scope(scope)
    conclusion_scope = scope.model_copy(update={"session_id": None})
    sources = list(records) if records is not None else await unreflected(store, scope, limit)
    if not sources:
        return ReflectionResult()
    existing = await store.list(conclusion_scope, kinds=sorted(L1_KINDS), limit=max_conclusions_shown)
    source_alias = {f"S{i}": r for i, r in enumerate(sources, 1)}
    conclusion_alias = {f"C{i}": r for i, r in enumerate(existing, 1)}
    prompt = "New observations:\n" + "\n".join(_line(a, r) for a, r in source_alias.items())
    prompt += "\n\nExisting conclusions:\n" + (
        "\n".join(_line(a, r) for a, r in conclusion_alias.items()) if conclusion_alias else "(none)"
    )

    messages: list[LLMMessage] = [
        SystemMessage(content=REFLECT_SYSTEM_PROMPT),
        UserMessage(content=EXAMPLE_OBSERVATIONS, source="user"),
        AssistantMessage(content=EXAMPLE_ANSWER, source="assistant"),
        UserMessage(content=prompt, source="user"),
    ]
    schema = reflection_schema(len(source_alias), len(conclusion_alias))
    output = await _structured(model_client, messages, schema, "reflection", policy, cancellation_token)

    planned: list[tuple[MemoryRecord, list[MemoryRecord]]] = []
    rejected: list[str] = []
    recited: list[str] = []
    for item in output.memories:
        text = " ".join(item.text.split())
        if _copies_example(text):
            rejected.append(f"{text!r} copies the prompt's example")
            continue
        if _wordless(text):
            rejected.append(f"{text!r} holds no word")
            continue
        cited = [source_alias[a] for a in dict.fromkeys(item.source_ids)]
        if (better := _recite(text, cited, sources)) is not None:
            recited.append(f"{text!r} cited {', '.join(r.id[:8] for r in cited)}, which shares no word with it: "
                           f"cites {', '.join(r.id[:8] for r in better)} instead")  # fmt: skip
            cited = better
        replaced = [conclusion_alias[a] for a in dict.fromkeys(item.supersedes)]
        record = MemoryRecord(
            kind=MemoryKind(item.kind),
            text=text,
            scope=conclusion_scope,
            source_ids=[r.id for r in cited],
            event_time=max(r.event_time or r.created_at for r in cited),
            importance=item.importance,
            confidence=item.confidence,
            metadata={**shared_labels(cited), "derived_by": actor, **speakers_metadata(cited)},
        )
        planned.append((record, replaced))
    if not planned:
        return ReflectionResult(source_ids=[r.id for r in sources], rejected=rejected, recited=recited)

    # One transaction: the new conclusions and the supersession of those they contradict land together.
    stored = await store.add_superseding(
        [(record, [old.id for old in replaced]) for record, replaced in planned], actor=actor
    )
    result = ReflectionResult(created=[], source_ids=[r.id for r in sources], rejected=rejected, recited=recited)
    for new, superseded in stored:
        if new not in result.created:
            result.created.append(new)
        result.superseded.extend((old_id, new.id) for old_id in superseded)
    return result


async def session_records(store: MemoryStoreAPI, scope: MemoryScope) -> list[MemoryRecord]:
    """The session's active L0 records, oldest first, which `summarize_session` reads; a scope without a session
    or a session without records is a `MemoryValidationError` (a caller can ask before it loads a model)."""
    scope = _session_scope(scope)
    messages = await store.list(scope, kinds=sorted(L0_KINDS), limit=None, oldest_first=True)
    if not messages:
        raise MemoryValidationError(f"session {scope.session_id!r} has no records to summarize")
    return messages


async def summarize_session(
    store: MemoryStoreAPI,
    scope: MemoryScope,
    model_client: ChatCompletionClient,
    *,
    max_input_tokens: int = 6000,
    actor: str = "summarize",
    policy: RetryPolicy | None = None,
    create_args: Mapping[str, Any] | None = None,
    cancellation_token: CancellationToken | None = None,
    records: Sequence[MemoryRecord] | None = None,
) -> MemoryRecord:
    """Summarize a session's raw records (default: `session_records`) into one `summary` record citing them; it
    supersedes the previous one.

    The model answers JSON (`{"summary": ...}`) so that an echo, a ramble or a loop is rejected rather than
    stored. `create_args` go to the model with the call (e.g. the bundled model's `BUNDLED_FREE_TEXT_ARGS`).
    """
    scope = _session_scope(scope)
    messages = list(records) if records is not None else await session_records(store, scope)
    if not messages:
        raise MemoryValidationError("no records to summarize")
    lines: list[str] = []
    used = 0
    for record in reversed(messages):  # the most recent part of the session that fits the budget
        line = _line("", record)[3:]
        used += count_tokens(line) + 1
        if used > max_input_tokens and lines:
            break
        lines.append(line)
    shown = messages[len(messages) - len(lines):]
    prompt: list[LLMMessage] = [
        SystemMessage(content=SUMMARY_SYSTEM_PROMPT),
        UserMessage(content="\n".join(reversed(lines)), source="user"),
    ]
    output = await _structured(model_client, prompt, SessionSummary, "summary", policy, cancellation_token, create_args)
    text = output.summary.strip()
    if not text:
        raise ReflectionError("the model returned an empty summary", raw_output=output.summary)
    previous = await store.list(scope, kinds=[MemoryKind.SUMMARY], limit=None)
    [(summary, _)] = await store.add_superseding(
        [(MemoryRecord(
            kind=MemoryKind.SUMMARY,
            text=text,
            scope=scope,
            source_ids=[r.id for r in shown],
            event_time=shown[-1].event_time or shown[-1].created_at,
            importance=0.6,
            metadata={**shared_labels(shown), "derived_by": actor, "messages": len(shown), **speakers_metadata(shown)},
        ), [old.id for old in previous])],
        actor=actor,
    )
    return summary
