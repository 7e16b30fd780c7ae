"""Simple Responder: an AutoGen chat agent that answers each turn grounded on Omne memory.

Per turn: search memory → pack the best hits under a token budget → answer → record the turn as L0.
Every `reflect_every` turns (and at `end_session`) it reflects, deriving L1 records that cite the L0s.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    MemoryQueryEvent,
    ModelClientStreamingChunkEvent,
    TextMessage,
    ThoughtEvent,
)
from autogen_core import CancellationToken
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from pydantic import BaseModel, Field

from omne_core.memory import (
    MemoryKind,
    MemoryRecord,
    MemoryScope,
    MemoryStoreAPI,
    ReflectionError,
    ReflectionNotes,
    build_context,
    reflect,
)
from omne_core.models import ModelFaultError, RetryPolicy, create_with_retry, stream_with_retry

from .access import MemoryAccess
from .experience import hits_as_memory_contents
from .responses import final_response

DEFAULT_SYSTEM_MESSAGE = """You are a helpful assistant with long-term memory.
Use the memories below when they are relevant; they come from earlier conversations with this user.
If the memories do not contain what is asked, say you do not know rather than guess."""


class ReflectionReport(ReflectionNotes):
    """What one reflection did: the L1 records it created and the L0 records they cite."""

    created_ids: list[str] = Field(default_factory=list)
    source_ids: list[str] = Field(default_factory=list)
    error: str | None = None
    raw_output: str | None = None  # what the model last wrote, when its reply was unusable

    @property
    def changed(self) -> bool:
        return bool(self.created_ids)


class SimpleResponderState(BaseModel):
    type: str = "SimpleResponderState"
    session_id: str
    turns: int = 0
    turns_since_reflection: int = 0
    history: list[tuple[str, str]] = Field(default_factory=list)  # (speaker, text) of this session
    history_ids: list[str | None] = Field(default_factory=list)  # the L0 record of each of the latest history entries


class SimpleResponder(BaseChatAgent):
    """Answers each turn with memory: retrieves, answers, records the turn (L0) and reflects every N turns.

    `memory` is an open store (a `MemoryStore`, or a `RemoteMemoryStore` on a server); `access` says which scopes
    to read and where to write (a `MemoryScope` means read and write that scope). `record_replies=False` records
    only the incoming messages (e.g. when a weak model's replies would pollute memory); `model_create_args` go with
    every reply call (e.g. `{"max_tokens": 48}`), not with reflection. Retrieved memories go at the top of
    the latest user message by default (`memory_placement="user"`): some chat templates, Gemma's among
    them, silently drop system messages. Inner events include a `MemoryQueryEvent`
    whose items carry the ids of the memories put in the prompt. A hit that the prompt's recent history already
    shows (the turns of this session within `history_turns`) is left out: it would only take a slot twice.
    """

    def __init__(
        self,
        name: str,
        model_client: ChatCompletionClient,
        memory: MemoryStoreAPI,
        access: MemoryAccess | MemoryScope,
        *,
        session_id: str | None = None,
        system_message: str = DEFAULT_SYSTEM_MESSAGE,
        context_max_tokens: int = 1500,
        search_limit: int = 10,
        history_turns: int = 6,
        reflect_every: int | None = 5,
        reflection_client: ChatCompletionClient | None = None,
        model_client_stream: bool = False,
        record_replies: bool = True,
        memory_placement: Literal["user", "system"] = "user",
        retry: RetryPolicy | None = None,
        model_create_args: Mapping[str, Any] | None = None,
        description: str = "An assistant that remembers earlier conversations with the user.",
    ) -> None:
        super().__init__(name, description)
        self._client = model_client
        self._memory = memory
        self.access = access if isinstance(access, MemoryAccess) else MemoryAccess.of(access)
        self._system_message = system_message
        self._context_max_tokens = context_max_tokens
        self._search_limit = search_limit
        self._history_turns = history_turns
        self._reflect_every = reflect_every
        self._reflection_client = reflection_client or model_client
        self._stream = model_client_stream
        self._record_replies = record_replies
        self._memory_placement = memory_placement
        self._retry = retry or RetryPolicy()
        self._model_create_args = dict(model_create_args or {})
        self._state = SimpleResponderState(session_id=session_id or uuid.uuid4().hex[:12])

    # -- AutoGen agent protocol --------------------------------------------------------------------
    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    @property
    def session_id(self) -> str:
        return self._state.session_id

    @property
    def write_scope(self) -> MemoryScope:
        return self.access.for_session(self.session_id)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        return await final_response(self.on_messages_stream(messages, cancellation_token))

    async def on_messages_stream(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> AsyncGenerator[BaseAgentEvent | BaseChatMessage | Response, None]:
        incoming = [(m.source, m.to_model_text()) for m in messages if m.source != self.name]
        query = "\n".join(text for _, text in incoming).strip()
        inner: list[BaseAgentEvent | BaseChatMessage] = []

        used_ids: list[str] = []
        memory_text = ""
        if query:
            try:
                shown = {rid for rid in self._state.history_ids[-self._window :] if rid}  # the prompt has them already
                hits = await self._memory.search(query, list(self.access.read), limit=self._search_limit + len(shown))
                hits = [h for h in hits if h.record.id not in shown][: self._search_limit]
                context = build_context(hits, self._context_max_tokens)
                used_ids, memory_text = list(context.record_ids), context.text
                used = [h for h in hits if h.record.id in set(used_ids)]
                contents = hits_as_memory_contents(used, context.sources_under)
                event: BaseAgentEvent = MemoryQueryEvent(content=contents, source=self.name)
            except Exception as exc:  # noqa: BLE001 - a memory outage degrades the turn, never kills it
                event = ThoughtEvent(content=f"Memory search failed, answering without memory: {exc}", source=self.name)
            inner.append(event)
            yield event

        prompt = self._prompt(incoming, memory_text)
        answer, status = "", "ok"
        extra = self._model_create_args
        try:
            if self._stream:
                stream = stream_with_retry(
                    self._client, prompt, extra_create_args=extra, policy=self._retry, cancellation_token=cancellation_token
                )
                async for chunk in stream:
                    if isinstance(chunk, CreateResult):
                        answer = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
                    else:
                        yield ModelClientStreamingChunkEvent(content=chunk, source=self.name)
            else:
                result = await create_with_retry(
                    self._client, prompt, extra_create_args=extra, policy=self._retry, cancellation_token=cancellation_token
                )
                answer = result.content if isinstance(result.content, str) else str(result.content)
        except ModelFaultError as exc:
            answer, status = f"Sorry, the model failed on this turn ({exc}). Your message was saved in memory.", "model_error"

        ids = await self._record(incoming, answer if status == "ok" and self._record_replies else None)
        self._state.history += incoming + ([(self.name, answer)] if status == "ok" else [])
        self._state.history_ids = (self._state.history_ids + ids[: len(incoming) + (status == "ok")])[-self._window :]
        self._state.turns += 1
        self._state.turns_since_reflection += 1
        if self._reflect_every and self._state.turns_since_reflection >= self._reflect_every:
            report = await self.reflect()
            note = ThoughtEvent(content=_report_text(report), source=self.name)
            inner.append(note)
            yield note

        yield Response(
            chat_message=TextMessage(
                content=answer,
                source=self.name,
                metadata={"memory_ids": ",".join(used_ids), "status": status, "session_id": self.session_id},
            ),
            inner_messages=inner,
        )

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Start a new session: short-term history is cleared; long-term memory stays."""
        self._state = SimpleResponderState(session_id=uuid.uuid4().hex[:12])

    async def save_state(self) -> dict[str, Any]:
        return self._state.model_dump()

    async def load_state(self, state: Any) -> None:
        self._state = SimpleResponderState.model_validate(state)

    # -- memory operations -------------------------------------------------------------------------
    async def reflect(self) -> ReflectionReport:
        """Derive L1 records from this session's unreflected L0 records; malformed model output changes nothing.

        It takes the responders' path (`create_structured` under this agent's `RetryPolicy`): transient faults
        and malformed replies are retried; what still fails is reported, never raised.
        """
        self._state.turns_since_reflection = 0
        try:
            outcome = await reflect(
                self._memory, self.write_scope, self._reflection_client, actor=f"agent:{self.name}", policy=self._retry
            )
        except ReflectionError as exc:
            return ReflectionReport(error=f"nothing stored: {exc}", raw_output=exc.raw_output)
        except ModelFaultError as exc:
            return ReflectionReport(error=str(exc))
        sources = sorted({sid for record in outcome.created for sid in record.source_ids})
        return ReflectionReport(
            created_ids=[r.id for r in outcome.created], source_ids=sources, rejected=list(outcome.rejected),
            recited=list(outcome.recited),
        )

    async def end_session(self) -> ReflectionReport | None:
        """Reflect over the turns not yet reflected on (call when the conversation ends)."""
        if self._state.turns_since_reflection == 0:
            return None
        return await self.reflect()

    async def _record(self, incoming: list[tuple[str, str]], answer: str | None) -> list[str | None]:
        """Store the turn as L0 `message` records (speaker-prefixed text, speaker and role in metadata); the id of
        each incoming message and of the answer, None for what was not stored (blank, or a reply not recorded).

        Called only once the reply is complete: a turn cancelled mid-reply (Ctrl-C) stores nothing."""
        scope = self.write_scope
        now = datetime.now(UTC)
        turn = [*incoming, (self.name, answer or "")]
        records = {
            at: MemoryRecord(
                kind=MemoryKind.MESSAGE,
                text=f"{speaker}: {text}",
                scope=scope,
                event_time=now,
                metadata={"speaker": speaker, "role": "assistant" if speaker == self.name else "user", "agent": self.name},
            )
            for at, (speaker, text) in enumerate(turn)
            if text.strip()
        }
        stored = dict(zip(records, await self._memory.add(list(records.values())), strict=True)) if records else {}
        return [stored[at].id if at in stored else None for at in range(len(turn))]

    @property
    def _window(self) -> int:
        """How many of the latest history entries each prompt shows."""
        return 2 * self._history_turns

    def _prompt(self, incoming: list[tuple[str, str]], memory_text: str) -> list[LLMMessage]:
        system = self._system_message
        if memory_text and (self._memory_placement == "system" or not incoming):
            system += f"\n\n{memory_text}"
        elif memory_text:  # in the latest user message: chat templates that drop system turns (Gemma) keep it
            speaker, text = incoming[-1]
            incoming = [*incoming[:-1], (speaker, f"{memory_text}\n\n---\n{text}")]
        prompt: list[LLMMessage] = [SystemMessage(content=system)]
        for speaker, text in self._state.history[-self._window :]:
            if speaker == self.name:
                prompt.append(AssistantMessage(content=text, source=speaker))
            else:
                prompt.append(UserMessage(content=text, source=speaker))
        for speaker, text in incoming:
            prompt.append(UserMessage(content=text, source=speaker))
        return prompt


def _report_text(report: ReflectionReport) -> str:
    if report.error:
        return f"Reflection failed, memory unchanged: {report.error}"
    if not report.changed:
        return "Reflection produced no valid L1 record; memory unchanged."
    also = [f"{len(whys)} {said}" for said, whys in report.notes()]
    return (f"Reflection derived {len(report.created_ids)} L1 record(s) from {len(report.source_ids)} L0 record(s)"
            + (f" ({', '.join(also)})." if also else "."))  # fmt: skip
