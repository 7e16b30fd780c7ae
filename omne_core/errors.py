"""Omne's one error tree: every error Omne raises on purpose is an `OmneError`, in one of five branches.

```
OmneError
├── ConfigurationError   settings that do not describe something usable (also a ValueError)
├── StorageError         memory storage: missing records, rejected input, a store that is not open, ...
├── DocumentError        a file could not be converted (carries the path at fault)
├── ModelError           a model could not be built, reached or understood
└── ToolError            an expected tool failure whose message is safe to show to an agent
```

Each layer's own classes (`MemoryNotFoundError`, `FileTooLargeError`, `SearchError`, ...) live next to
their code and derive from one of these, so a caller can catch a whole branch or one case.
"""

from __future__ import annotations

from typing import Any


class OmneError(Exception):
    """Root of every error Omne raises on purpose."""


class ConfigurationError(OmneError, ValueError):
    """The settings (or arguments standing for them) do not describe something usable."""


class StorageError(OmneError):
    """Memory storage refused or failed an operation."""


class StoreNotOpenError(StorageError, RuntimeError):
    """The memory store was used before `open()` or after `close()`."""

    def __init__(self, message: str = "the memory store is not open (use `await MemoryStore.open(settings)`)") -> None:
        super().__init__(message)


class DocumentError(OmneError):
    """A file could not be converted; `path` names the file (or archive member) at fault."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:  # keep `path` when the error crosses a process boundary
        return (type(self), (self.message, self.path))

    def __str__(self) -> str:
        return f"{self.message} ({self.path})" if self.path else self.message


class ModelError(OmneError):
    """A model (chat or embedding) could not be built, reached, or its output used."""


class ToolError(OmneError):
    """An expected tool failure whose message is safe and useful to show to an agent.

    Tools raise it; the tool wrapper (`omne_tools.toolset.agent_tool`) turns it into the text the model
    sees, `"<label>: <message>"`, in one place for every tool. `label` names the kind of failure.
    """

    label = "Error"

    def agent_text(self) -> str:
        """What the model sees instead of the tool's result."""
        return f"{self.label}: {self}"
