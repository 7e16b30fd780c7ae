"""JSON / JSON-LD and XML: validated, then shown as pretty-printed fenced code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CorruptFileError
from ..types import ConvertedDocument, DocumentSection
from .base import ConvertJob
from .text import convert_text, read_text


def _jsonld_types(data: Any) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("@type")
            if isinstance(kind, str):
                found.append(kind)
            elif isinstance(kind, list):
                found.extend(str(k) for k in kind)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return sorted(set(found))


def _single(job: ConvertJob, body: str, metadata: dict[str, Any], mime_type: str | None = None) -> ConvertedDocument:
    return job.document([DocumentSection(text=body, source=job.source)], metadata, mime_type=mime_type)


def convert_json(path: str, job: ConvertJob) -> ConvertedDocument:
    text = read_text(path, job.encoding)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if job.by_content:  # only looked like JSON: keep it as text
            return convert_text(path, job.model_copy(update={"mime_type": "text/plain"}))
        raise CorruptFileError(f"invalid JSON: {exc}", job.source) from exc
    metadata: dict[str, Any] = {"converter": "json", "top_level": type(data).__name__}
    mime_type = job.mime_type
    nodes = data if isinstance(data, list) else [data]
    if any(isinstance(n, dict) and "@context" in n for n in nodes):
        metadata["json_ld"] = True
        metadata["jsonld_types"] = _jsonld_types(data)
        mime_type = "application/ld+json"
    body = "```json\n" + json.dumps(data, indent=2, ensure_ascii=False) + "\n```"
    if metadata.get("jsonld_types"):
        body = f"JSON-LD types: {', '.join(metadata['jsonld_types'])}\n\n{body}"
    return _single(job, body, metadata, mime_type)


def convert_xml(path: str, job: ConvertJob) -> ConvertedDocument:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    raw = Path(path).read_bytes()
    try:
        root = ElementTree.fromstring(raw)
    except DefusedXmlException as exc:
        raise CorruptFileError(f"XML refused (entity expansion or external reference): {exc}", job.source) from exc
    except ElementTree.ParseError as exc:
        if job.by_content:
            return convert_text(path, job.model_copy(update={"mime_type": "text/plain"}))
        raise CorruptFileError(f"invalid XML: {exc}", job.source) from exc
    tag = root.tag.split("}")[-1]
    text = read_text(path, job.encoding)
    body = f"```xml\n{text.strip()}\n```"
    return _single(job, body, {"converter": "xml", "root": tag})
