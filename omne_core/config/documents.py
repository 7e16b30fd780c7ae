"""Document conversion limits (size, archives, time)."""

from __future__ import annotations

from pydantic import BaseModel


class DocumentSettings(BaseModel):
    max_file_bytes: int = 100 * 1024 * 1024
    max_zip_members: int = 1000
    max_zip_uncompressed_bytes: int = 500 * 1024 * 1024
    max_archive_depth: int = 3
    per_file_timeout_s: float = 120.0
    chunk_tokens: int = 400
    chunk_overlap_tokens: int = 60
    use_llama_parse: bool = True  # only when LLAMA_CLOUD_API_KEY is set
