"""Typed errors of the memory layer: callers can tell bad input from missing records from broken services."""

from __future__ import annotations

import re

from pydantic import ValidationError

from ..errors import StorageError, StoreNotOpenError

__all__ = [
    "DataDirectoryInUseError",
    "MemoryImportError",
    "MemoryNotFoundError",
    "MemoryStoreError",
    "MemoryValidationError",
    "ReflectionError",
    "DataDirectoryInUseError",
    "StoreNotOpenError",
    "validation_problems",
]


class MemoryStoreError(StorageError):
    """Base class of every memory error (the storage branch of `OmneError`)."""


class MemoryNotFoundError(MemoryStoreError, KeyError):
    """No record has this id (or it belongs to another scope)."""

    def __init__(self, record_id: str) -> None:
        super().__init__(record_id)
        self.record_id = record_id

    def __str__(self) -> str:
        return f"no memory record with id {self.record_id!r}"


class MemoryValidationError(MemoryStoreError, ValueError):
    """The input was rejected before anything was written."""


class AmbiguousIdError(MemoryValidationError):
    """A short id matches several of the scope's records; `candidates` are (some of) their ids."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        super().__init__(f"id {prefix!r} is ambiguous: it starts {', '.join(candidates)}; give more characters")
        self.prefix = prefix
        self.candidates = candidates


class MemoryImportError(MemoryValidationError):
    """An import file is corrupt; nothing was imported."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class ReflectionError(MemoryStoreError):
    """The model's reflection output could not be used; the store was not changed."""

    def __init__(self, message: str, raw_output: str | None = None) -> None:
        super().__init__(message)
        self.raw_output = raw_output


class DataDirectoryInUseError(MemoryStoreError):
    """Another process holds the embedded store's data directory; the message names it and the ways out."""


_SECRET_FIELD = re.compile(r"key|token|secret|password", re.IGNORECASE)  # their values are never echoed


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one short line of sentences: `field: problem (got value); other: unknown field`."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(map(str, error["loc"])) or "value"
        if error["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown field")
            continue
        got, secret = error.get("input"), _SECRET_FIELD.search(where)
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and not secret else ""
        problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(problems)


class MemoryServerError(MemoryStoreError):
    """A memory server answered with an error (`status`, stable problem `code`) or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class MemoryServiceUnavailableError(MemoryServerError):
    """The server is down, unreachable, overloaded after retries, or lacks what the call needs (e.g. a model)."""


class MemoryAuthError(MemoryServerError):
    """The server refused the API key (none, unknown or revoked)."""


class MemoryPermissionError(MemoryServerError):
    """The API key may not do this (a read-only key asked to write)."""
