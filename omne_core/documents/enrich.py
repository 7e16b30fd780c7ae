"""Model-made content for media files: image descriptions (a vision chat client) and audio transcripts.

These run in the caller's process (model clients are async and not picklable) under their own time
limits. A failing model never loses the file's metadata: the failure is noted in the result.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ServiceUnavailableError
from .types import ConvertedDocument, DocumentSection, SectionKind

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from ..config import OmneSettings
    from ..config.documents import TranscriberSettings

NO_TRANSCRIBER = "no transcriber configured"
DESCRIBE_PROMPT = (
    "Describe this image for someone who cannot see it. Transcribe every piece of visible text exactly, "
    "list the objects, people, numbers, charts or tables it shows with their values, and the layout."
)
_MAX_VISION_SIDE = 2048


@runtime_checkable
class Transcriber(Protocol):
    """Turns an audio file into text."""

    async def transcribe(self, path: Path, mime_type: str) -> str: ...


class OpenAITranscriber:
    """Speech-to-text through an OpenAI-compatible `/audio/transcriptions` endpoint (OpenAI, a local
    whisper server, ...). No retries: an unreachable endpoint fails at once."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 language: str | None = None, timeout_s: float = 300.0) -> None:  # fmt: skip
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.language = language
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, transcriber: TranscriberSettings, fallback_api_key: str | None = None) -> OpenAITranscriber:
        key = transcriber.api_key.get_secret_value() if transcriber.api_key else fallback_api_key
        return cls(transcriber.model or "whisper-1", base_url=transcriber.base_url, api_key=key,
                   language=transcriber.language, timeout_s=transcriber.timeout_s)  # fmt: skip

    async def transcribe(self, path: Path, mime_type: str) -> str:
        import openai

        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key or "not-needed", timeout=self.timeout_s, max_retries=0
        )
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
            extra = {"language": self.language} if self.language else {}
            result = await client.audio.transcriptions.create(  # type: ignore[call-overload]
                model=self.model, file=(Path(path).name, data, mime_type), **extra
            )
        except openai.OpenAIError as exc:
            raise ServiceUnavailableError(f"transcription failed: {type(exc).__name__}: {exc}", str(path)) from exc
        finally:
            await client.close()
        return (getattr(result, "text", None) or str(result)).strip()


def transcriber_from_settings(settings: OmneSettings) -> Transcriber | None:
    """The configured transcriber, or None when `documents.transcriber.model` is unset."""
    config = settings.documents.transcriber
    if not config.model:
        return None
    fallback = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAITranscriber.from_settings(config, fallback)


def _image_for_model(path: Path) -> Any:
    from autogen_core import Image
    from PIL import Image as PILImage

    with PILImage.open(path) as pil:
        pil.seek(0)
        rgb = pil.convert("RGB")
        rgb.thumbnail((_MAX_VISION_SIDE, _MAX_VISION_SIDE))
        return Image.from_pil(rgb)


async def describe_image(client: ChatCompletionClient, path: Path, prompt: str = DESCRIBE_PROMPT) -> str:
    """Ask a vision chat model to describe the image at `path`."""
    from autogen_core.models import UserMessage

    if not client.model_info.get("vision", False):
        raise ServiceUnavailableError("the vision client's model does not accept images", str(path))
    image = await asyncio.to_thread(_image_for_model, path)
    result = await client.create([UserMessage(content=[prompt, image], source="user")])
    if not isinstance(result.content, str) or not result.content.strip():
        raise ServiceUnavailableError("the vision model returned no description", str(path))
    return result.content.strip()


def _with_section_text(doc: ConvertedDocument, kind: SectionKind, extra: str) -> ConvertedDocument:
    sections = [
        s.model_copy(update={"text": f"{s.text}\n\n{extra}"}) if s.kind is kind else s for s in doc.sections
    ]
    if not any(s.kind is kind for s in doc.sections):
        sections.append(DocumentSection(kind=kind, text=extra, source=doc.source))
    rebuilt = ConvertedDocument.from_sections(
        source=doc.source, name=doc.name, kind=doc.kind, mime_type=doc.mime_type, sections=sections,
        metadata=doc.metadata, warnings=doc.warnings,
    )  # fmt: skip
    return rebuilt


async def add_image_description(
    doc: ConvertedDocument, path: Path, client: ChatCompletionClient, timeout_s: float
) -> ConvertedDocument:
    """`doc` with a vision-model description appended (or the failure noted in metadata)."""
    try:
        description = await asyncio.wait_for(describe_image(client, path), timeout_s)
    except Exception as exc:  # the model is optional; the metadata stays
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        doc.metadata["description_error"] = reason
        doc.warnings.append(f"image description failed: {reason}")
        return doc
    doc.metadata["described"] = True
    return _with_section_text(doc, SectionKind.IMAGE, f"Description (vision model):\n{description}")


async def add_transcript(
    doc: ConvertedDocument, path: Path, transcriber: Transcriber | None, timeout_s: float
) -> ConvertedDocument:
    """`doc` with the audio's transcript appended, or a clear note why there is none."""
    if transcriber is None:
        doc.metadata["transcript_status"] = NO_TRANSCRIBER
        return _with_section_text(doc, SectionKind.AUDIO, f"No transcript: {NO_TRANSCRIBER}.")
    try:
        transcript = await asyncio.wait_for(transcriber.transcribe(path, doc.mime_type), timeout_s)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        doc.metadata["transcript_status"] = f"transcription failed: {reason}"
        doc.warnings.append(f"transcription failed: {reason}")
        return _with_section_text(doc, SectionKind.AUDIO, f"No transcript: transcription failed ({reason}).")
    doc.metadata["transcribed"] = True
    doc.metadata["transcript_status"] = "ok"
    return _with_section_text(doc, SectionKind.AUDIO, f"Transcript:\n{transcript}")
