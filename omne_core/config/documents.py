"""Document conversion: limits (size, archives, time), worker isolation, remote parsers and chunking."""

from __future__ import annotations

import os

from pydantic import Field, SecretStr

from .section import SettingsSection


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


class TranscriberSettings(SettingsSection):
    """An OpenAI-compatible speech-to-text endpoint (`/audio/transcriptions`); unset model: no transcriber."""

    model: str | None = None  # e.g. "whisper-1", or the model name a local server exposes
    base_url: str | None = None  # None: api.openai.com
    api_key: SecretStr | None = None  # None: settings.openai_api_key
    language: str | None = None
    timeout_s: float = 300.0


class DocumentSettings(SettingsSection):
    max_file_bytes: int = 100 * 1024 * 1024
    max_zip_members: int = 1000
    max_zip_uncompressed_bytes: int = 500 * 1024 * 1024
    max_zip_compression_ratio: float = 200.0  # a member expanding more than this (and >1 MiB) is a bomb
    max_archive_depth: int = 3
    per_file_timeout_s: float = 120.0
    isolate_converters: bool = True  # run parsers in killable worker processes (False: threads, no kill)
    worker_processes: int = Field(default_factory=_default_workers)
    max_spreadsheet_cells: int = 2_000_000
    pdf_table_max_pages: int = 50  # pdfplumber table detection (slow) on at most this many ruled pages per PDF
    chunk_tokens: int = 400
    chunk_overlap_tokens: int = 60
    use_llama_parse: bool = True  # only when LLAMA_CLOUD_API_KEY is set
    llama_parse_base_url: str | None = None  # None: LLAMA_CLOUD_BASE_URL or the LlamaCloud default
    llama_parse_timeout_s: float = 300.0
    vision_timeout_s: float = 120.0
    transcriber: TranscriberSettings = Field(default_factory=TranscriberSettings)
