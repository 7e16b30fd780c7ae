"""The embedded backend: SQLite (records, history, FTS5) + chroma (vectors) under the data directory."""

from .backend import EmbeddedBackend

__all__ = ["EmbeddedBackend"]
