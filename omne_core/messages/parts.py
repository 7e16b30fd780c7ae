"""Message parts: text, image, file and audio. Binary parts hold their bytes inline, a local path,
a URL or a reference into the `BlobStore` — whichever the producer had."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..blobs import BlobStore
from ..errors import DocumentError


class PartError(DocumentError, ValueError):
    """A binary part whose bytes cannot be obtained (no source, missing file or blob, failed download)."""


class TextPart(BaseModel):
    type: Literal["text"] = "text"
    text: str


class BinaryPart(BaseModel):
    """Common fields of image, file and audio parts."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    data: bytes | None = None
    path: Path | None = None
    url: str | None = None
    blob_ref: str | None = None
    mime_type: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _has_source(self) -> BinaryPart:
        if self.data is None and self.path is None and self.url is None and self.blob_ref is None:
            raise ValueError(f"a {type(self).__name__} needs data, path, url or blob_ref")
        if self.name is None:
            source = self.path.name if self.path else (self.url.rsplit("/", 1)[-1].split("?")[0] if self.url else None)
            self.name = source or None
        if self.mime_type is None and self.name:
            self.mime_type = mimetypes.guess_type(self.name)[0]
        return self

    @property
    def display_name(self) -> str:
        return self.name or (self.blob_ref[:12] if self.blob_ref else "unnamed")

    async def read_bytes(self, blobs: BlobStore | None = None, *, max_bytes: int = 100 * 1024 * 1024,
                         timeout_s: float = 30.0) -> bytes:  # fmt: skip
        """The part's bytes, from wherever they are (inline, blob store, file, then URL)."""
        if self.data is not None:
            return self.data
        if self.blob_ref is not None and blobs is not None and blobs.exists(self.blob_ref):
            return await blobs.aget_bytes(self.blob_ref)
        if self.path is not None:
            try:
                return await asyncio.to_thread(Path(self.path).read_bytes)
            except OSError as exc:
                raise PartError(f"cannot read {self.path}: {exc}") from exc
        if self.url is not None:
            return await _download(self.url, max_bytes, timeout_s)
        raise PartError(f"blob {self.blob_ref} is not available (no blob store given or blob missing)")


async def _download(url: str, max_bytes: int, timeout_s: float) -> bytes:
    if url.startswith("data:"):
        import base64

        header, _, payload = url.partition(",")
        return base64.b64decode(payload) if header.endswith(";base64") else payload.encode()
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=True) as client:
            async with client.stream("GET", url) as response:
                response.raise_for_status()
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise PartError(f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise PartError(f"cannot download {url}: {type(exc).__name__}: {exc}") from exc


class ImagePart(BinaryPart):
    type: Literal["image"] = "image"
    description: str | None = None  # alt text or a vision model's description


class FilePart(BinaryPart):
    type: Literal["file"] = "file"
    extracted_text: str | None = None  # cached conversion of the file to text


class AudioPart(BinaryPart):
    type: Literal["audio"] = "audio"
    transcript: str | None = None


MessagePart = Annotated[TextPart | ImagePart | FilePart | AudioPart, Field(discriminator="type")]


def part_descriptor(part: BinaryPart) -> dict[str, Any]:
    """A small JSON-able description of a binary part (no bytes): enough to rebuild it from a store."""
    fields = part.model_dump(mode="json", exclude={"data"}, exclude_none=True)
    return fields
