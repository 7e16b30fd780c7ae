"""The unified multimodal message (text, image, file, audio parts) and its AutoGen and memory conversions."""

from .autogen import (
    from_chat_message,
    from_llm_message,
    to_chat_message,
    to_llm_message,
    to_llm_messages,
)
from .memory import conversation_records, from_memory_records, to_memory_records
from .message import MessageRole, OmneMessage
from .parts import AudioPart, BinaryPart, FilePart, ImagePart, MessagePart, PartError, TextPart
from .render import RenderOptions, model_reads, part_as_text, part_for_model

__all__ = [
    "AudioPart",
    "BinaryPart",
    "FilePart",
    "ImagePart",
    "MessagePart",
    "MessageRole",
    "OmneMessage",
    "PartError",
    "RenderOptions",
    "TextPart",
    "conversation_records",
    "from_chat_message",
    "from_llm_message",
    "from_memory_records",
    "model_reads",
    "part_as_text",
    "part_for_model",
    "to_chat_message",
    "to_llm_message",
    "to_llm_messages",
    "to_memory_records",
]
