"""LlamaParse (LlamaCloud) as the first choice for PDFs and office files when an API key is set.

The call is bounded: a TCP probe fails at once on an unreachable endpoint (LlamaParse itself retries
connection errors with multi-second backoff), and the whole parse has a time limit. Any failure is
raised as `ServiceUnavailableError`, so `convert_file` falls back to the local converters.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ServiceUnavailableError
from .types import ConvertedDocument, DocumentKind, DocumentSection, SectionKind

DEFAULT_LLAMA_CLOUD_URL = "https://api.cloud.llamaindex.ai"
PROBE_TIMEOUT_S = 5.0
_SECTION_KIND = {DocumentKind.PDF: SectionKind.PAGE, DocumentKind.PPTX: SectionKind.SLIDE}


def llama_cloud_base_url(configured: str | None) -> str:
    return (configured or os.environ.get("LLAMA_CLOUD_BASE_URL") or DEFAULT_LLAMA_CLOUD_URL).rstrip("/")


async def probe(base_url: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Open (and close) a TCP connection to the service; raise `ServiceUnavailableError` if it fails."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError) as exc:
        raise ServiceUnavailableError(f"LlamaCloud unreachable at {base_url}: {exc or 'timed out'}") from exc
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def parse_with_llama_cloud(
    path: Path, *, source: str, name: str, kind: DocumentKind, mime_type: str, api_key: str,
    base_url: str | None = None, timeout_s: float = 300.0,
) -> ConvertedDocument:  # fmt: skip
    """Markdown per page from LlamaParse; `ServiceUnavailableError` on any failure."""
    url = llama_cloud_base_url(base_url)
    await probe(url, min(PROBE_TIMEOUT_S, timeout_s))
    try:
        from llama_cloud_services import LlamaParse

        parser = LlamaParse(
            api_key=api_key, base_url=url, result_type="markdown", max_timeout=max(1, int(timeout_s)),
            ignore_errors=False, verbose=False, show_progress=False, num_workers=1,
        )  # fmt: skip
        result = await asyncio.wait_for(parser.aparse(str(path)), timeout_s)
    except TimeoutError as exc:
        raise ServiceUnavailableError(f"LlamaParse took longer than {timeout_s:g} s", source) from exc
    except Exception as exc:
        raise ServiceUnavailableError(f"LlamaParse failed: {type(exc).__name__}: {exc}", source) from exc
    results = result if isinstance(result, list) else [result]
    pages = [page for r in results for page in (r.pages or [])]
    if not pages:
        raise ServiceUnavailableError("LlamaParse returned no pages", source)
    section_kind = _SECTION_KIND.get(kind, SectionKind.PAGE if kind is DocumentKind.PDF else SectionKind.SECTION)
    sections = [
        DocumentSection(kind=section_kind, index=page.page or number, text=(page.md or page.text or "").strip(),
                        source=source)  # fmt: skip
        for number, page in enumerate(pages, start=1)
    ]
    return ConvertedDocument.from_sections(
        source=source, name=name, kind=kind, mime_type=mime_type, sections=sections,
        metadata={"converter": "llama-parse", "parser": "llama-parse", "pages": len(sections)},
    )  # fmt: skip
