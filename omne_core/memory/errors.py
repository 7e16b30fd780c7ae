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
    "VectorSpaceChangedError",
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


class VectorSpaceChangedError(MemoryStoreError):
    """Another process rebuilt a shared store's vectors for another embedder or dense-text format (another model,
    another Omne version) after this one opened it: what this process would embed no longer fits, so it writes
    nothing. Every process on a store must embed alike: restart this one like the others."""

    def __init__(self, mine: str, stored: str | None, outcome: str = "nothing was written") -> None:
        super().__init__(
            f"this store's vectors are now made for {stored!r} (another process opened it so), but this process "
            f"embeds for {mine!r}: {outcome}; restart it with the same embedder and Omne version as the others"
        )
        self.mine, self.stored = mine, stored


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
