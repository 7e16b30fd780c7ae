"""`OmneMessage`: one chat message as an ordered list of parts, with sender, time and metadata."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .parts import AudioPart, FilePart, ImagePart, MessagePart, TextPart


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class OmneMessage(BaseModel):
    """A multimodal message. Convert it with `to_chat_message`, `to_llm_message` or `to_memory_records`."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    role: MessageRole = MessageRole.USER
    sender: str = "user"
    parts: list[MessagePart] = Field(default_factory=list)
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def text_message(cls, text: str, sender: str = "user", **kwargs: Any) -> OmneMessage:
        return cls(sender=sender, parts=[TextPart(text=text)], **kwargs)

    @property
    def text(self) -> str:
        """The text parts joined (binary parts are left out)."""
        return "\n\n".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def images(self) -> list[ImagePart]:
        return [p for p in self.parts if isinstance(p, ImagePart)]

    @property
    def files(self) -> list[FilePart]:
        return [p for p in self.parts if isinstance(p, FilePart)]

    @property
    def audio(self) -> list[AudioPart]:
        return [p for p in self.parts if isinstance(p, AudioPart)]

    @property
    def is_text_only(self) -> bool:
        return all(isinstance(p, TextPart) for p in self.parts)
