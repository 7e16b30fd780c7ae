"""`final_response`: an agent's `on_messages`, built from its `on_messages_stream`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage, ModelClientStreamingChunkEvent


async def final_response(stream: AsyncIterator[BaseAgentEvent | BaseChatMessage | Response]) -> Response:
    """The stream's `Response`, with every event before it (streaming chunks aside) as its inner messages,
    so `on_messages` and `on_messages_stream` cannot disagree."""
    response: Response | None = None
    inner: list[BaseAgentEvent | BaseChatMessage] = []
    async for item in stream:
        if isinstance(item, Response):
            response = item
        elif not isinstance(item, ModelClientStreamingChunkEvent):
            inner.append(item)
    if response is None:
        raise AssertionError("on_messages_stream ended without a Response")
    return Response(chat_message=response.chat_message, inner_messages=inner)
