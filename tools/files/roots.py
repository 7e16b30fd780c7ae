"""Confine agent-given paths to configured root folders: no `../` escapes, no symlinks leading outside."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import PathNotAllowedError, PathNotFoundError


class FileRoots:
    """The folders an agent may read from. Paths are resolved (symlinks followed) before the check."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots = list(dict.fromkeys(Path(os.path.realpath(root)) for root in roots))

    def __bool__(self) -> bool:
        return bool(self.roots)

    def contains(self, path: Path) -> bool:
        """True when the already-resolved `path` is one of the roots or inside one."""
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def resolve(self, path: str | Path) -> Path:
        """The real path of `path` (absolute, or relative to a root) if it exists inside a root.

        Raises `PathNotAllowedError` when it resolves outside every root (`../`, absolute paths elsewhere,
        symlinks pointing out) and `PathNotFoundError` when it is allowed but does not exist.
        """
        text = str(path).strip()
        if not text or "\x00" in text:
            raise PathNotFoundError("No file path given.")
        if not self.roots:
            raise PathNotAllowedError("Refused: no folders are configured for reading files.")
        given = Path(text)
        candidates = [given] if given.is_absolute() else [root / given for root in self.roots]
        inside: list[Path] = []
        for candidate in candidates:
            real = Path(os.path.realpath(candidate))
            if self.contains(real):
                if real.exists():
                    return real
                inside.append(real)
        if not inside:
            raise PathNotAllowedError(
                f"Refused: {text} is outside the folders you may read ({', '.join(map(str, self.roots))})."
            )
        raise PathNotFoundError(f"No such file: {text} (looked in {', '.join(map(str, self.roots))}).")

    def display(self, path: Path) -> str:
        """`path` relative to its root when possible, for messages shown to the agent."""
        for root in self.roots:
            if path.is_relative_to(root):
                return str(path.relative_to(root)) or "."
        return str(path)
