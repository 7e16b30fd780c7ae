"""Conversions between `OmneMessage` and AutoGen: agentchat `TextMessage`/`MultiModalMessage` and
model-client `LLMMessage`s.

AutoGen messages have no file or audio content, so those parts travel as text (extracted text,
transcript). A JSON manifest in the message's `metadata["omne.parts"]` records every part, so
converting back restores the original parts, not just their text.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from typing import Any

from autogen_agentchat.messages import BaseChatMessage, BaseTextChatMessage, MultiModalMessage, TextMessage
from autogen_core import FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResultMessage,
    LLMMessage,
    SystemMessage,
    UserMessage,
)
from pydantic import TypeAdapter

from .message import MessageRole, OmneMessage
from .parts import BinaryPart, ImagePart, MessagePart, TextPart
from .render import RenderOptions, part_as_text, part_for_model

MANIFEST_KEY = "omne.parts"
METADATA_KEY = "omne.metadata"
ROLE_KEY = "omne.role"
ID_KEY = "omne.id"
_SEPARATOR = "\n\n"
_PART = TypeAdapter(MessagePart)


def _image_bytes(image: Image) -> bytes:
    buffer = io.BytesIO()
    image.image.save(buffer, format="PNG")
    return buffer.getvalue()


def _descriptor(part: MessagePart, rendered: str | Image) -> dict[str, Any]:
    if isinstance(part, TextPart):
        entry: dict[str, Any] = {"type": "text"}
    else:
        entry = part.model_dump(mode="json", exclude={"data"}, exclude_none=True)
        inline_only = part.data is not None and part.path is None and part.url is None and part.blob_ref is None
        if inline_only and part.data is not None and not isinstance(rendered, Image):
            entry["data_b64"] = base64.b64encode(part.data).decode("ascii")
    if isinstance(rendered, str):
        entry["chars"] = len(rendered)
    return entry


def _rebuild(entry: dict[str, Any], item: str | Image) -> MessagePart:
    if entry.get("type") == "text":
        return TextPart(text=item if isinstance(item, str) else "")
    fields = {k: v for k, v in entry.items() if k not in {"chars", "data_b64"}}
    if "data_b64" in entry:
        fields["data"] = base64.b64decode(entry["data_b64"])
    elif isinstance(item, Image) and not any(fields.get(k) for k in ("path", "url", "blob_ref")):
        fields["data"] = _image_bytes(item)
        fields["mime_type"] = "image/png"
    return _PART.validate_python(fields)


def _plain_part(item: str | Image) -> MessagePart:
    if isinstance(item, Image):
        return ImagePart(data=_image_bytes(item), mime_type="image/png")
    return TextPart(text=item)


def _autogen_metadata(message: OmneMessage, manifest: list[dict[str, Any]]) -> dict[str, str]:
    metadata = {MANIFEST_KEY: json.dumps(manifest), ROLE_KEY: message.role.value, ID_KEY: message.id}
    if message.metadata:
        metadata[METADATA_KEY] = json.dumps(message.metadata, default=str)
    return metadata


async def to_chat_message(message: OmneMessage, options: RenderOptions | None = None) -> TextMessage | MultiModalMessage:
    """A `MultiModalMessage` when an image goes to the model as an image, else a `TextMessage`."""
    options = options or RenderOptions()
    rendered = [await part_for_model(part, options) for part in message.parts]
    manifest = [_descriptor(part, item) for part, item in zip(message.parts, rendered, strict=True)]
    metadata = _autogen_metadata(message, manifest)
    if any(isinstance(item, Image) for item in rendered):
        return MultiModalMessage(content=rendered, source=message.sender, metadata=metadata, created_at=message.time)
    text = _SEPARATOR.join(str(item) for item in rendered)
    return TextMessage(content=text, source=message.sender, metadata=metadata, created_at=message.time)


def _manifest(metadata: dict[str, str]) -> list[dict[str, Any]] | None:
    try:
        manifest = json.loads(metadata[MANIFEST_KEY])
    except (KeyError, ValueError, TypeError):
        return None
    return manifest if isinstance(manifest, list) and all(isinstance(e, dict) for e in manifest) else None


def _split_text(text: str, manifest: list[dict[str, Any]]) -> list[str] | None:
    """The text cut back into its parts, or None if it was edited since (lengths no longer add up)."""
    found = [e.get("chars") for e in manifest]
    sizes = [s for s in found if isinstance(s, int)]
    if len(sizes) != len(found):
        return None
    if sum(sizes) + len(_SEPARATOR) * (len(sizes) - 1) != len(text):
        return None
    pieces, offset = [], 0
    for size in sizes:
        pieces.append(text[offset : offset + size])
        offset += size + len(_SEPARATOR)
    return pieces


def from_chat_message(message: BaseChatMessage) -> OmneMessage:
    """An `OmneMessage` from any agentchat chat message (Omne's own parts restored when present)."""
    manifest = _manifest(message.metadata)
    if isinstance(message, MultiModalMessage):
        items: list[str | Image] = list(message.content)
        if manifest is not None and len(manifest) == len(items):
            parts = [_rebuild(e, i) for e, i in zip(manifest, items, strict=True)]
        else:
            parts = [_plain_part(i) for i in items]
    elif isinstance(message, BaseTextChatMessage):
        pieces = _split_text(message.content, manifest) if manifest else None
        if pieces is not None and manifest is not None:
            parts = [_rebuild(e, p) for e, p in zip(manifest, pieces, strict=True)]
        else:
            parts = [TextPart(text=message.content)]
    else:
        parts = [TextPart(text=message.to_model_text())]

    metadata: dict[str, Any] = {}
    if METADATA_KEY in message.metadata:
        try:
            metadata = json.loads(message.metadata[METADATA_KEY])
        except ValueError:
            metadata = {}
    extra = {k: v for k, v in message.metadata.items() if not k.startswith("omne.")}
    if extra:
        metadata.setdefault("autogen_metadata", extra)
    if not isinstance(message, TextMessage | MultiModalMessage):
        metadata.setdefault("autogen_type", getattr(message, "type", type(message).__name__))
    default_role = MessageRole.USER if message.source == "user" else MessageRole.ASSISTANT
    role = message.metadata.get(ROLE_KEY, default_role)
    return OmneMessage(
        id=message.metadata.get(ID_KEY, message.id),
        role=MessageRole(role) if role in MessageRole.__members__.values() else default_role,
        sender=message.source,
        parts=parts,
        time=message.created_at,
        metadata=metadata,
    )


async def to_llm_message(message: OmneMessage, options: RenderOptions | None = None) -> LLMMessage:
    """The model-client message for `message`: images stay images only in user messages to vision models."""
    options = options or RenderOptions()
    if message.role is MessageRole.USER or message.role is MessageRole.TOOL:
        content = [await part_for_model(part, options) for part in message.parts]
        if all(isinstance(item, str) for item in content):
            return UserMessage(content=_SEPARATOR.join(content), source=message.sender)  # type: ignore[arg-type]
        return UserMessage(content=content, source=message.sender)
    text = _SEPARATOR.join([await part_as_text(part, options) for part in message.parts])
    if message.role is MessageRole.SYSTEM:
        return SystemMessage(content=text)
    return AssistantMessage(content=text, source=message.sender)


async def to_llm_messages(messages: list[OmneMessage], options: RenderOptions | None = None) -> list[LLMMessage]:
    return [await to_llm_message(m, options) for m in messages]


def from_llm_message(message: LLMMessage) -> OmneMessage:
    """An `OmneMessage` from a model-client message (function calls and results kept as JSON text)."""
    if isinstance(message, SystemMessage):
        return OmneMessage(role=MessageRole.SYSTEM, sender="system", parts=[TextPart(text=message.content)])
    if isinstance(message, UserMessage):
        items = [message.content] if isinstance(message.content, str) else list(message.content)
        return OmneMessage(role=MessageRole.USER, sender=message.source, parts=[_plain_part(i) for i in items])
    if isinstance(message, AssistantMessage):
        metadata: dict[str, Any] = {}
        if message.thought:
            metadata["thought"] = message.thought
        if isinstance(message.content, str):
            parts: list[MessagePart] = [TextPart(text=message.content)]
        else:
            calls = [dataclasses.asdict(c) if isinstance(c, FunctionCall) else c for c in message.content]
            metadata["function_calls"] = calls
            parts = [TextPart(text=json.dumps(calls))]
        return OmneMessage(role=MessageRole.ASSISTANT, sender=message.source, parts=parts, metadata=metadata)
    if isinstance(message, FunctionExecutionResultMessage):
        results = [r.model_dump() for r in message.content]
        return OmneMessage(
            role=MessageRole.TOOL,
            sender="tool",
            parts=[TextPart(text=r.content) for r in message.content],
            metadata={"function_results": results},
        )
    raise TypeError(f"not an LLMMessage: {type(message).__name__}")


def binary_parts(message: OmneMessage) -> list[BinaryPart]:
    return [p for p in message.parts if isinstance(p, BinaryPart)]
