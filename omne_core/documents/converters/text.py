"""Plain text, markdown and source code (and any text file detected by content, e.g. `.pdb`)."""

from __future__ import annotations

from pathlib import Path

from ..types import ConvertedDocument, DocumentSection
from .base import ConvertJob

_FENCED = {
    ".py": "python", ".js": "javascript", ".ts": "typescript", ".java": "java", ".c": "c", ".h": "c",
    ".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp", ".cs": "csharp", ".go": "go", ".rs": "rust", ".rb": "ruby",
    ".php": "php", ".sh": "bash", ".bash": "bash", ".sql": "sql", ".r": "r", ".kt": "kotlin", ".swift": "swift",
    ".scala": "scala", ".m": "matlab", ".jl": "julia", ".lua": "lua", ".pl": "perl", ".hs": "haskell",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".css": "css", ".tex": "latex",
}  # fmt: skip


def read_text(path: str | Path, encoding: str | None) -> str:
    """The file decoded with its detected encoding (undecodable bytes replaced, never an error)."""
    return Path(path).read_bytes().decode(encoding or "utf-8", errors="replace").replace("\r\n", "\n")


def convert_text(path: str, job: ConvertJob) -> ConvertedDocument:
    text = read_text(path, job.encoding)
    language = _FENCED.get(Path(job.name).suffix.lower())
    body = f"```{language}\n{text.rstrip()}\n```" if language else text
    section = DocumentSection(text=body, source=job.source)
    metadata = {"converter": "text", "encoding": job.encoding, "lines": text.count("\n") + 1}
    return job.document([section], metadata)
