"""Reading model replies: the JSON value in a reply, and the answer after a `FINAL ANSWER:` marker.

One copy of each for the whole project: reflection, the responders and the GAIA harness all parse
replies here, so they cannot disagree about what a model answered.
"""

from __future__ import annotations

import json
import re
from typing import Any

FINAL_ANSWER_MARKER = "FINAL ANSWER:"
ANSWER_WRAPPERS = "*`_ \t\"'"  # markdown emphasis, code ticks and quotes a model puts around an answer

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_MARKER = re.compile(r"FINAL\s+ANSWER\s*:", re.IGNORECASE)


def extract_json(text: str) -> Any:
    """The JSON value in a model reply: the whole reply, a ``` fence, or the first balanced `{...}` span.

    Control characters inside strings are accepted (small models under a grammar write raw newlines).
    Raises `ValueError` when the reply holds no JSON value.
    """
    text = text.strip()
    candidates = [text, *(block.strip() for block in _FENCE.findall(text))]
    span = _first_object(text)
    if span is not None:
        candidates.append(span)
    for candidate in candidates:
        try:
            return json.loads(candidate, strict=False)
        except (json.JSONDecodeError, TypeError):
            continue
    raise ValueError("no JSON object in the model output")


def _first_object(text: str) -> str | None:
    """The first balanced `{...}` span of `text`, braces inside JSON strings ignored."""
    start = text.find("{")
    if start < 0:
        return None
    depth = 0
    in_string = escaped = False
    for index, char in enumerate(text[start:], start):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return None


def extract_final_answer(text: str | None) -> str | None:
    """The answer after the last `FINAL ANSWER:` marker (any case and spacing): its first non-empty line,
    without the emphasis, quotes or template brackets around it.

    None when the reply has no marker; "" when the marker is followed by nothing.
    """
    if not text:
        return None
    matches = list(_MARKER.finditer(text))
    if not matches:
        return None
    for line in text[matches[-1].end() :].splitlines():
        answer = line.strip().strip(ANSWER_WRAPPERS).strip()
        if answer.startswith("[") and answer.endswith("]"):  # the template's brackets, copied literally
            answer = answer[1:-1].strip()
        if answer:
            return answer
    return ""
