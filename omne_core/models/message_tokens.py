"""Offline token counts for AutoGen message lists, following OpenAI's chat accounting.

AutoGen's `OpenAIChatCompletionClient.count_tokens` calls `tiktoken.encoding_for_model`, which downloads
the BPE file on first use; offline that fails. This counter uses `omne_core.tokens` instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from autogen_core.models import AssistantMessage, LLMMessage, UserMessage
from autogen_core.tools import Tool, ToolSchema

from ..tokens import count_tokens
from .message_text import message_images, message_text, tools_text

TOKENS_PER_MESSAGE = 3  # <|start|>{role}<|message|> ... <|end|>
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3  # every reply is primed with <|start|>assistant<|message|>
TOOLS_OVERHEAD_TOKENS = 12
LOW_DETAIL_IMAGE_TOKENS = 85


def image_tokens(width: int, height: int) -> int:
    """OpenAI's high-detail image cost: fit in 2048x2048, shortest side to 768, then 85 + 170 per 512px tile."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    return LOW_DETAIL_IMAGE_TOKENS + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def count_message_tokens(
    messages: Sequence[LLMMessage],
    model: str | None = None,
    *,
    tools: Sequence[Tool | ToolSchema] = (),
    include_names: bool = True,
) -> int:
    """Prompt tokens `messages` (and `tools`) cost `model`, counted without any network access."""
    total = 0
    for message in messages:
        total += TOKENS_PER_MESSAGE + count_tokens(message_text(message, image_placeholder=""), model)
        if include_names and isinstance(message, UserMessage | AssistantMessage) and message.source:
            total += TOKENS_PER_NAME + count_tokens(message.source, model)
        for image in message_images(message):
            width, height = image.image.size
            total += image_tokens(width, height)
    total += REPLY_PRIMING_TOKENS
    if tools:
        total += TOOLS_OVERHEAD_TOKENS + count_tokens(tools_text(tools), model)
    return total
