"""Confine agent-given paths to configured roots: folders (and what is inside them) or single files; no `../`
escapes, no symlinks leading outside."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import PathNotAllowedError, PathNotFoundError


class FileRoots:
    """What an agent may read: root folders with their contents, and root files on their own (a task's
    attachment, without the folder it sits in). Paths are resolved (symlinks followed) before the check."""

    def __init__(self, roots: Iterable[str | Path]) -> None:
        self.roots: list[Path] = []
        for root in roots:
            self.add(root)

    def add(self, root: str | Path) -> None:
        """Allow one more folder or file."""
        real = Path(os.path.realpath(root))
        if real not in self.roots:
            self.roots.append(real)

    def __bool__(self) -> bool:
        return bool(self.roots)

    @property
    def folders(self) -> list[Path]:
        return [root for root in self.roots if not root.is_file()]

    @property
    def files(self) -> list[Path]:
        return [root for root in self.roots if root.is_file()]

    def contains(self, path: Path) -> bool:
        """True when the already-resolved `path` is a root, or inside a root folder."""
        return any(path == root or (root.is_dir() and path.is_relative_to(root)) for root in self.roots)

    def describe(self) -> str:
        """The roots as the agent is told about them."""
        return ", ".join(map(str, self.roots))

    def resolve(self, path: str | Path) -> Path:
        """The real path of `path` (absolute, relative to a root folder, or a root file's name) if it is allowed.

        Raises `PathNotAllowedError` when it resolves outside every root (`../`, absolute paths elsewhere,
        symlinks pointing out, a root file's neighbours) and `PathNotFoundError` when it is allowed but
        does not exist.
        """
        text = str(path).strip()
        if not text or "\x00" in text:
            raise PathNotFoundError("No file path given.")
        if not self.roots:
            raise PathNotAllowedError("Refused: no folders are configured for reading files.")
        given = Path(text)
        if given.is_absolute():
            candidates = [given]
        else:
            candidates = [root / given for root in self.folders]
            candidates += [root for root in self.files if given == Path(root.name)]
        inside: list[Path] = []
        for candidate in candidates:
            real = Path(os.path.realpath(candidate))
            if self.contains(real):
                if real.exists():
                    return real
                inside.append(real)
        if not inside:
            raise PathNotAllowedError(f"Refused: {text} is outside the files you may read ({self.describe()}).")
        raise PathNotFoundError(f"No such file: {text} (looked in {', '.join(map(str, self.folders))}).")

    def display(self, path: Path) -> str:
        """`path` relative to its root folder when possible (a root file: its name), for messages to the agent."""
        for root in self.roots:
            if path == root and root.is_file():
                return root.name
            if path.is_relative_to(root):
                return str(path.relative_to(root)) or "."
        return str(path)
