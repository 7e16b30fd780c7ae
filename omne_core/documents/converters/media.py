"""Images and audio: metadata the file itself carries (size, EXIF with GPS, tags, duration).

Descriptions (vision model) and transcripts (speech model) are added afterwards by `enrich`,
in the caller's process, because they need the caller's async model clients.
"""

from __future__ import annotations

from typing import Any

from ..errors import CorruptFileError, FileTooLargeError
from ..types import ConvertedDocument, DocumentSection, SectionKind
from .base import ConvertJob

_SKIPPED_EXIF = ("JPEGThumbnail", "TIFFThumbnail", "Filename", "EXIF MakerNote", "MakerNote")


def _ratio(value: Any) -> float:
    return float(value.num) / float(value.den) if getattr(value, "den", 0) else float(value)


def _gps_decimal(tags: dict[str, Any]) -> tuple[float, float] | None:
    try:
        lat = [_ratio(v) for v in tags["GPS GPSLatitude"].values]
        lon = [_ratio(v) for v in tags["GPS GPSLongitude"].values]
    except (KeyError, AttributeError, ZeroDivisionError, TypeError, ValueError):
        return None
    latitude = lat[0] + lat[1] / 60 + lat[2] / 3600
    longitude = lon[0] + lon[1] / 60 + lon[2] / 3600
    if str(tags.get("GPS GPSLatitudeRef", "N")).strip().upper().startswith("S"):
        latitude = -latitude
    if str(tags.get("GPS GPSLongitudeRef", "E")).strip().upper().startswith("W"):
        longitude = -longitude
    return round(latitude, 6), round(longitude, 6)


def read_exif(path: str) -> dict[str, str]:
    """EXIF tags as text (thumbnails and maker notes dropped); GPS also as decimal degrees."""
    import exifread

    with open(path, "rb") as fh:
        try:
            tags = exifread.process_file(fh, details=False)
        except Exception:  # exifread raises assorted errors on odd files; EXIF is optional
            return {}
    exif = {k: str(v).strip() for k, v in tags.items() if not k.startswith(_SKIPPED_EXIF) and str(v).strip()}
    gps = _gps_decimal(tags)
    if gps:
        exif["GPS decimal"] = f"{gps[0]}, {gps[1]}"
    return exif


def convert_image(path: str, job: ConvertJob) -> ConvertedDocument:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            info: dict[str, Any] = {
                "format": image.format,
                "width": image.width,
                "height": image.height,
                "mode": image.mode,
                "frames": getattr(image, "n_frames", 1),
            }
            text_chunks = {k: str(v) for k, v in image.info.items() if isinstance(v, str) and len(v) < 2000}
    except Image.DecompressionBombError as exc:
        raise FileTooLargeError(f"image has too many pixels: {exc}", job.source) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(f"not a readable image: {exc}", job.source) from exc

    exif = read_exif(path)
    lines = [f"Image: {info['format']}, {info['width']}×{info['height']} pixels, mode {info['mode']}"
             + (f", {info['frames']} frames" if info["frames"] > 1 else "")]  # fmt: skip
    if text_chunks:
        lines.append("\nEmbedded text:")
        lines += [f"- {k}: {v}" for k, v in sorted(text_chunks.items())]
    if exif:
        lines.append("\nEXIF:")
        lines += [f"- {k}: {v}" for k, v in sorted(exif.items())]
    else:
        lines.append("\nNo EXIF metadata.")
    section = DocumentSection(kind=SectionKind.IMAGE, text="\n".join(lines), source=job.source, metadata=info)
    return job.document([section], {"converter": "pillow+exifread", **info, "exif": exif, "described": False})


def convert_audio(path: str, job: ConvertJob) -> ConvertedDocument:
    from tinytag import TinyTag, TinyTagException

    try:
        tag = TinyTag.get(path)
        info = {k: v for k, v in tag.as_dict().items() if v not in (None, "", [], {}) and k != "filename"}
    except TinyTagException as exc:
        raise CorruptFileError(f"not a readable audio file: {exc}", job.source) from exc
    info = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in info.items()}
    info = {k: v for k, v in info.items() if isinstance(v, str | int | float)}
    lines = [f"Audio file ({job.mime_type})"]
    if "duration" in info:
        lines[0] += f", duration {float(str(info['duration'])):.1f} s"
    lines += [f"- {k}: {v}" for k, v in sorted(info.items()) if k not in {"duration", "filesize"}]
    section = DocumentSection(kind=SectionKind.AUDIO, text="\n".join(lines), source=job.source, metadata=info)
    return job.document([section], {"converter": "tinytag", **info, "transcribed": False})
