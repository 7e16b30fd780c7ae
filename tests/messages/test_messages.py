"""OmneMessage ↔ AutoGen (agentchat and model-client messages) ↔ memory records."""

from __future__ import annotations

import io
import json

from autogen_agentchat.messages import MultiModalMessage, StopMessage, TextMessage
from autogen_core import FunctionCall, Image
from autogen_core.models import (
    AssistantMessage,
    FunctionExecutionResult,
    FunctionExecutionResultMessage,
    SystemMessage,
    UserMessage,
)
from PIL import Image as PILImage

from omne_core.blobs import BlobStore
from omne_core.config import DocumentSettings
from omne_core.messages import (
    AudioPart,
    FilePart,
    ImagePart,
    MessageRole,
    OmneMessage,
    RenderOptions,
    TextPart,
    from_chat_message,
    from_llm_message,
    from_memory_records,
    to_chat_message,
    to_llm_message,
    to_memory_records,
)
from omne_core.records import MemoryKind, MemoryScope, Modality
from tests.documents import builders


def _pixels(data: bytes) -> tuple[tuple[int, int], tuple]:
    with PILImage.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGB").getpixel((0, 0))


def _rich_message(tmp_path) -> OmneMessage:
    pdf = builders.make_pdf(tmp_path / "brief.pdf", ["mission brief", "rendezvous at dawn"])
    return OmneMessage(
        sender="alice",
        parts=[
            TextPart(text="Here is everything."),
            ImagePart(data=builders.png_bytes((10, 200, 10)), mime_type="image/png", name="green.png"),
            FilePart(path=pdf),
            AudioPart(path=builders.make_wav(tmp_path / "memo.wav"), transcript="call me back"),
        ],
        metadata={"channel": "ops", "priority": 2},
    )


async def test_multimodal_round_trip_keeps_every_part(tmp_path):
    message = _rich_message(tmp_path)
    options = RenderOptions(vision=True, settings=None)
    chat = await to_chat_message(message, options)
    assert isinstance(chat, MultiModalMessage) and chat.source == "alice"
    assert isinstance(chat.content[1], Image)
    assert "rendezvous at dawn" in chat.content[2]  # the file travels as its extracted text
    assert chat.content[3].endswith("call me back")

    back = from_chat_message(chat)
    assert [p.type for p in back.parts] == ["text", "image", "file", "audio"]
    assert back.parts[0].text == "Here is everything."
    assert _pixels(back.parts[1].data) == ((8, 8), (10, 200, 10))
    assert back.parts[2].path == message.parts[2].path and back.parts[2].mime_type == "application/pdf"
    assert back.parts[3].transcript == "call me back"
    assert (back.id, back.sender, back.time, back.metadata) == (message.id, "alice", message.time, message.metadata)


async def test_blind_model_gets_a_text_message_that_still_round_trips(tmp_path):
    message = _rich_message(tmp_path)
    chat = await to_chat_message(message, RenderOptions(vision=False))
    assert isinstance(chat, TextMessage)
    assert "[Image: green.png (image/png)]" in chat.content and "rendezvous at dawn" in chat.content
    back = from_chat_message(chat)
    assert [p.type for p in back.parts] == ["text", "image", "file", "audio"]
    assert back.parts[1].data == message.parts[1].data  # inline bytes travel in the manifest
    edited = chat.model_copy(update={"content": chat.content + " (edited)"})
    assert [p.type for p in from_chat_message(edited).parts] == ["text"]  # edited text is not mis-split


def test_plain_autogen_messages_convert():
    image = Image.from_pil(PILImage.new("RGB", (4, 4), (255, 0, 0)))
    back = from_chat_message(MultiModalMessage(content=["look", image], source="user"))
    assert back.role is MessageRole.USER and [p.type for p in back.parts] == ["text", "image"]
    assert _pixels(back.parts[1].data) == ((4, 4), (255, 0, 0))
    stop = from_chat_message(StopMessage(content="done", source="critic", metadata={"k": "v"}))
    assert stop.role is MessageRole.ASSISTANT and stop.text == "done"
    assert stop.metadata == {"autogen_metadata": {"k": "v"}, "autogen_type": "StopMessage"}


async def test_llm_messages_for_vision_and_blind_models(tmp_path):
    message = _rich_message(tmp_path)
    vision = await to_llm_message(message, RenderOptions(vision=True))
    assert isinstance(vision, UserMessage) and vision.source == "alice"
    assert [type(c).__name__ for c in vision.content] == ["str", "Image", "str", "str"]
    blind = await to_llm_message(message, RenderOptions(vision=False))
    assert isinstance(blind.content, str) and "[File: brief.pdf (application/pdf)]" in blind.content
    assert "## Page 2\n\nrendezvous at dawn" in blind.content

    reply = OmneMessage(role=MessageRole.ASSISTANT, sender="bot", parts=[TextPart(text="ok")])
    assert await to_llm_message(reply) == AssistantMessage(content="ok", source="bot")
    system = OmneMessage(role=MessageRole.SYSTEM, parts=[TextPart(text="be brief")])
    assert await to_llm_message(system) == SystemMessage(content="be brief")


async def test_unreadable_file_part_becomes_a_clear_note(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 nonsense")
    message = OmneMessage(parts=[FilePart(path=bad)])
    llm = await to_llm_message(message, RenderOptions(vision=False, settings=None))
    assert "[File: broken.pdf (application/pdf)]\n(could not be read:" in llm.content


def test_from_llm_messages():
    image = Image.from_pil(PILImage.new("RGB", (2, 2)))
    user = from_llm_message(UserMessage(content=["hi", image], source="u"))
    assert [p.type for p in user.parts] == ["text", "image"] and user.sender == "u"
    calls = from_llm_message(AssistantMessage(content=[FunctionCall(id="1", name="f", arguments="{}")], source="a"))
    assert json.loads(calls.text)[0]["name"] == "f"
    tool = from_llm_message(FunctionExecutionResultMessage(
        content=[FunctionExecutionResult(call_id="1", content="42", name="f", is_error=False)]))  # fmt: skip
    assert tool.role is MessageRole.TOOL and tool.text == "42"


async def test_memory_records_one_per_part_with_deduplicated_blobs(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    scope = MemoryScope(user_id="u1")
    png = builders.png_bytes((1, 2, 3))
    message = _rich_message(tmp_path)
    message.parts.append(ImagePart(data=png, mime_type="image/png", name="copy.png"))
    message.parts.append(ImagePart(data=png, mime_type="image/png", name="copy-again.png"))
    message.parts.append(ImagePart(url="https://example.invalid/cat.jpg"))
    options = RenderOptions(vision=False, blobs=blobs, settings=None)
    records = await to_memory_records(message, scope, blobs, options)

    assert len(records) == len(message.parts)
    assert all(r.kind is MemoryKind.MESSAGE and r.level.value == "L0" for r in records)
    assert [r.modality for r in records[:4]] == [Modality.TEXT, Modality.IMAGE, Modality.FILE, Modality.AUDIO]
    assert records[4].blob_ref == records[5].blob_ref  # same bytes → one blob
    assert blobs.get_bytes(records[4].blob_ref) == png
    assert records[2].blob_ref and "rendezvous at dawn" in records[2].text
    assert records[3].text.endswith("call me back")
    assert records[6].blob_ref is None and records[6].metadata["part"]["url"] == "https://example.invalid/cat.jpg"
    stored = sorted(p for p in (tmp_path / "blobs").rglob("*") if p.is_file() and ".pending" not in p.parts)  # not the write journal
    assert len(stored) == 4  # green png, pdf, wav, the duplicated png once

    [back] = await from_memory_records(list(reversed(records)), blobs, load_bytes=True)
    assert [p.type for p in back.parts] == [p.type for p in message.parts]
    assert back.parts[4].data == png and back.parts[1].data == message.parts[1].data
    assert back.parts[2].data == message.parts[2].path.read_bytes()
    assert (back.id, back.sender, back.metadata) == (message.id, "alice", message.metadata)


def test_message_json_round_trip_with_bytes(tmp_path):
    message = OmneMessage(parts=[ImagePart(data=b"\x89PNG\x00\xff", mime_type="image/png")])
    again = OmneMessage.model_validate_json(message.model_dump_json())
    assert again.parts[0].data == b"\x89PNG\x00\xff"
    assert DocumentSettings().chunk_tokens > 0
