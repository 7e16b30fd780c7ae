"""Question-focused reading: ask a model about a (long) document and get a short and a detailed answer.

A document that fits the budget goes to the model in one call. A longer one is split into token
windows; the windows that share most words with the question are read first (map: notes per window)
and the notes are then combined into the answer (reduce).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, LLMMessage, SystemMessage, UserMessage
from pydantic import BaseModel

from omne_core.tokens import encoding_for

ANSWER_SYSTEM_PROMPT = (
    "You answer a question about a document using only the text you are given. Reply with one JSON "
    'object and nothing else: {"short_answer": "<the answer in a few words, or UNKNOWN>", '
    '"detailed_answer": "<the answer with the supporting facts, quotes and where they are in the document>"}'
)
NOTHING = "NOTHING RELEVANT"
NOTES_SYSTEM_PROMPT = (
    "You read one part of a longer document. Copy out everything in it that helps answer the question: "
    "facts, numbers, names, short quotes, and where they are (page, sheet, heading). If nothing in this "
    f"part is relevant, reply exactly {NOTHING}."
)
_WORD = re.compile(r"\w{3,}")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class DocumentAnswer(BaseModel):
    """The answer to a question about a document."""

    short_answer: str
    detailed_answer: str
    parts_read: int = 1
    parts_total: int = 1
    well_formed: bool = True  # False: the model ignored the JSON format; its whole reply is `detailed_answer`

    def render(self, name: str) -> str:
        lines = [f"Short answer: {self.short_answer}", "", f"Detailed answer: {self.detailed_answer}", ""]
        coverage = (
            "the whole document"
            if self.parts_read == self.parts_total
            else f"{self.parts_read} of {self.parts_total} parts (those closest to the question)"
        )
        lines.append(f"(Source: {name}; read {coverage}.)")
        if not self.well_formed:
            lines.append(
                "(Note: the model did not reply in the requested JSON form; its full reply is given above.)"
            )
        return "\n".join(lines)


def split_tokens(text: str, window: int, overlap: int = 200) -> list[str]:
    """`text` cut into windows of at most `window` tokens that overlap by `overlap` tokens."""
    encoding = encoding_for(None)
    ids = encoding.encode(text, disallowed_special=())
    if len(ids) <= window:
        return [text]
    step = max(1, window - overlap)
    return [encoding.decode(ids[start : start + window]) for start in range(0, len(ids) - overlap, step)]


def parse_answer(reply: str) -> DocumentAnswer:
    """The JSON answer in `reply`; a malformed reply is kept whole as the detailed answer."""
    match = _JSON_OBJECT.search(reply)
    if match:
        try:
            data = json.loads(match.group(0))
            short, detailed = data.get("short_answer"), data.get("detailed_answer")
            if isinstance(short, str | int | float) and isinstance(detailed, str | int | float):
                return DocumentAnswer(short_answer=str(short).strip(), detailed_answer=str(detailed).strip())
        except (json.JSONDecodeError, AttributeError):
            pass
    text = reply.strip()
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return DocumentAnswer(short_answer=first_line[:300], detailed_answer=text, well_formed=False)


def _rank_windows(windows: list[str], question: str, keep: int) -> list[int]:
    """Indexes of the `keep` windows sharing most question words, in document order."""
    words = {w.lower() for w in _WORD.findall(question)}
    scores = []
    for index, window in enumerate(windows):
        counts = Counter(w.lower() for w in _WORD.findall(window))
        scores.append((sum(counts[w] for w in words), -index))
    best = sorted(range(len(windows)), key=lambda i: scores[i], reverse=True)[:keep]
    return sorted(best)


class DocumentQuestionAnswerer:
    """Asks `client` a question about a document within a token budget per call and a time limit per call."""

    def __init__(
        self,
        client: ChatCompletionClient,
        *,
        window_tokens: int = 6000,
        max_windows: int = 8,
        timeout_s: float = 180.0,
    ) -> None:
        self.client = client
        self.window_tokens = window_tokens
        self.max_windows = max_windows
        self.timeout_s = timeout_s

    async def _complete(self, system: str, user: str, token: CancellationToken) -> str:
        messages: list[LLMMessage] = [SystemMessage(content=system), UserMessage(content=user, source="file_reader")]
        result = await asyncio.wait_for(
            self.client.create(messages, cancellation_token=token), self.timeout_s
        )
        if not isinstance(result.content, str):
            raise ValueError("the model answered with a function call instead of text")
        return result.content

    async def ask(
        self, name: str, text: str, question: str, cancellation_token: CancellationToken | None = None
    ) -> DocumentAnswer:
        """Answer `question` about document `name`; raises on model failure or timeout."""
        token = cancellation_token or CancellationToken()
        windows = split_tokens(text, self.window_tokens)
        if len(windows) == 1:
            user = f"Document: {name}\n\n<document>\n{text}\n</document>\n\nQuestion: {question}"
            return parse_answer(await self._complete(ANSWER_SYSTEM_PROMPT, user, token))
        chosen = _rank_windows(windows, question, self.max_windows)
        notes: list[str] = []
        for index in chosen:
            user = (
                f"Document: {name}, part {index + 1} of {len(windows)}\n\n<part>\n{windows[index]}\n</part>\n\n"
                f"Question: {question}"
            )
            reply = (await self._complete(NOTES_SYSTEM_PROMPT, user, token)).strip()
            if reply and NOTHING not in reply.upper():
                notes.append(f"Notes from part {index + 1}:\n{reply}")
        if not notes:
            notes.append("No part of the document contained anything relevant to the question.")
        user = f"Document: {name}\n\n<notes>\n" + "\n\n".join(notes) + f"\n</notes>\n\nQuestion: {question}"
        answer = parse_answer(await self._complete(ANSWER_SYSTEM_PROMPT, user, token))
        return answer.model_copy(update={"parts_read": len(chosen), "parts_total": len(windows)})
