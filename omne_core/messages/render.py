"""What a model gets for each part: images as `autogen_core.Image` when it can see, everything it
cannot read as text (a file's extracted text, an audio transcript, an image's description)."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blobs import BlobStore
from .parts import AudioPart, BinaryPart, FilePart, ImagePart, PartError, TextPart

if TYPE_CHECKING:
    from autogen_core import Image
    from autogen_core.models import ChatCompletionClient

    from ..config import OmneSettings
    from ..documents import Transcriber


@dataclass
class RenderOptions:
    """How to turn parts into model input: whether the model sees images, and where files are read from."""

    vision: bool = True
    blobs: BlobStore | None = None
    settings: OmneSettings | None = None
    vision_client: ChatCompletionClient | None = None  # describes images inside files for blind models
    transcriber: Transcriber | None = None
    max_file_chars: int = 50_000


def model_reads(part: Any, vision: bool) -> bool:
    """True when the model takes the part as is (text always; images only with vision)."""
    if isinstance(part, TextPart):
        return True
    if vision and isinstance(part, ImagePart | FilePart) and (part.mime_type or "").startswith("image/"):
        return True
    return False


async def image_for_model(part: BinaryPart, blobs: BlobStore | None = None) -> Image:
    """An `autogen_core.Image` of the part's bytes."""
    from autogen_core import Image
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    data = await part.read_bytes(blobs)
    try:
        return Image.from_pil(PILImage.open(io.BytesIO(data)))
    except (UnidentifiedImageError, OSError) as exc:
        raise PartError(f"{part.display_name} is not a readable image: {exc}") from exc


async def _convert_part(part: BinaryPart, options: RenderOptions) -> str:
    """The part converted by `convert_file` (bytes without a path go through a temporary file)."""
    from ..documents import DocumentError, convert_file

    workdir: Path | None = None
    try:
        if part.path is not None and part.data is None:
            path = Path(part.path)
        else:
            data = await part.read_bytes(options.blobs)
            workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="omne-part-"))
            path = workdir / Path(part.display_name).name
            await asyncio.to_thread(path.write_bytes, data)
        doc = await convert_file(path, options.settings, vision_client=options.vision_client,
                                 transcriber=options.transcriber)  # fmt: skip
        return doc.text.strip()
    except (DocumentError, PartError) as exc:
        return f"(could not be read: {exc})"
    finally:
        if workdir is not None:
            await asyncio.to_thread(shutil.rmtree, workdir, True)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… (truncated: {len(text) - limit} more characters)"


async def part_as_text(part: Any, options: RenderOptions) -> str:
    """A text rendering of any part, for models that cannot take it directly."""
    if isinstance(part, TextPart):
        return part.text
    label = f"{part.display_name}" + (f" ({part.mime_type})" if part.mime_type else "")
    if isinstance(part, ImagePart):
        text = f"[Image: {label}]"
        if part.description:
            text += f"\n{part.description}"
        elif part.url and part.data is None and part.path is None:
            text += f"\nURL: {part.url}"
        return text
    if isinstance(part, AudioPart):
        body = part.transcript if part.transcript is not None else await _convert_part(part, options)
        return f"[Audio: {label}]\n{_truncate(body, options.max_file_chars)}"
    if isinstance(part, FilePart):
        body = part.extracted_text if part.extracted_text is not None else await _convert_part(part, options)
        return f"[File: {label}]\n{_truncate(body, options.max_file_chars)}"
    raise TypeError(f"not a message part: {type(part).__name__}")


async def part_for_model(part: Any, options: RenderOptions) -> str | Image:
    """An `Image` for parts the model sees, text for the rest (an unreadable image falls back to text)."""
    if model_reads(part, options.vision) and not isinstance(part, TextPart):
        try:
            return await image_for_model(part, options.blobs)
        except PartError:
            return await part_as_text(part, options)
    return await part_as_text(part, options)
