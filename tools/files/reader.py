"""File reader: the document converter as an agent tool, confined to configured folders and files."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from omne_core.config import DocumentSettings, OmneSettings
from omne_core.documents import ConvertedDocument, DocumentError, DocumentKind, convert_file, extract_zip

from ..errors import FileReadError
from .ask import DocumentQuestionAnswerer
from .roots import FileRoots
from .window import TextWindow, find_text, window_at, window_start_for

_CACHE_SIZE = 16


class FileReader:
    """Reads a file under the allowed roots as markdown, or answers a question about it with a model.

    Without a question it shows one window of at most `max_output_tokens` tokens, from character `offset`
    or from a match of `find`, and says where the next one starts; with a question, the whole document is
    read by `model_client` (see `DocumentQuestionAnswerer`). Conversions are cached by path, size and mtime.
    A ZIP archive it reads is also extracted, and the folder it is extracted to becomes readable.
    """

    def __init__(
        self,
        roots: Iterable[str | Path],
        *,
        settings: OmneSettings | DocumentSettings | None = None,
        model_client: ChatCompletionClient | None = None,
        vision_client: ChatCompletionClient | None = None,
        max_output_tokens: int = 6000,
        answerer: DocumentQuestionAnswerer | None = None,
    ) -> None:
        self.roots = FileRoots(roots)
        self.settings = settings
        self.vision_client = vision_client
        self.max_output_tokens = max_output_tokens
        self.answerer = answerer or (
            DocumentQuestionAnswerer(model_client) if model_client is not None else None
        )
        self._cache: OrderedDict[tuple[str, int, int], ConvertedDocument] = OrderedDict()
        self._archives: dict[Path, Path] = {}  # archive -> the folder it was extracted to
        self._workdir: tempfile.TemporaryDirectory[str] | None = None  # removed with the reader

    async def convert(self, path: str | Path) -> tuple[Path, ConvertedDocument]:
        """The resolved path and its conversion; raises `ToolError` subclasses."""
        real = self.roots.resolve(path)
        if real.is_dir():
            raise FileReadError(f"{self.roots.display(real)} is a folder, not a file.")
        stat = real.stat()
        key = (str(real), stat.st_size, stat.st_mtime_ns)
        if key in self._cache:
            self._cache.move_to_end(key)
            return real, self._cache[key]
        try:
            document = await convert_file(real, self.settings, vision_client=self.vision_client)
        except DocumentError as exc:
            raise FileReadError(f"Could not read {self.roots.display(real)}: {exc.message}") from exc
        self._cache[key] = document
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return real, document

    async def read(
        self,
        path: str,
        question: str | None = None,
        cancellation_token: CancellationToken | None = None,
        *,
        offset: int = 0,
        find: str | None = None,
    ) -> str:
        """The agent-facing text: a folder listing, a window of the file's markdown, or the answer to `question`."""
        real = self.roots.resolve(path)
        if real.is_dir():
            return await asyncio.to_thread(self._listing, real)
        real, document = await self.convert(real)
        name = self.roots.display(real)
        if question and question.strip():
            return await self._answer(name, document, question.strip(), cancellation_token)
        header = [f"File: {name}", f"Type: {document.kind.value} ({document.mime_type})"]
        header += [f"Warning: {w}" for w in document.warnings]
        if document.kind is DocumentKind.ZIP:
            folder = await self._extract(real)
            header.append(f"Extracted to: {folder} (read one of its files with read_file(path=\"{folder}/<file>\")).")
        text = document.text
        if offset < 0 or offset > len(text):
            raise FileReadError(f"offset {offset} is outside {name}, which has {len(text):,} characters.")
        note = None
        if find is not None and find.strip():
            found = find_text(text, find, offset)
            if found is None:
                where = f" at or after character {offset:,}" if offset else ""
                again = " (search again without offset to look before it)" if offset else ""
                return f"{find.strip()!r} was not found{where} in {name} ({len(text):,} characters){again}."
            offset = window_start_for(text, found.offset)
            note = f"Found {find.strip()!r} at character {found.offset:,} (line {found.line:,}): match {found.number} of {found.count}."
            if found.next_offset is not None:
                note += f" Next match: read_file(path={name!r}, find={find.strip()!r}, offset={found.offset + 1})."
        window = await asyncio.to_thread(window_at, text, offset, self.max_output_tokens)
        if window.whole:
            return "\n".join(header) + "\n=======================\n" + text
        header += self._position(name, window, note)
        body = window.text if window.text.endswith("\n") else window.text + "\n"
        return "\n".join(header) + "\n=======================\n" + body + self._footer(name, window)

    @staticmethod
    def _position(name: str, window: TextWindow, note: str | None) -> list[str]:
        lines = [
            f"Length: {window.total:,} characters, {window.total_lines:,} lines.",
            f"Showing characters {window.start:,}-{window.end:,} (lines {window.first_line:,}-{window.last_line:,}).",
        ]
        return [note, *lines] if note else lines

    @staticmethod
    def _footer(name: str, window: TextWindow) -> str:
        ways = f"read_file(path={name!r}, find='some words') jumps to the first match at or after `offset`"
        if window.at_end:
            return f"=======================\n[End of {name}. {ways[0].upper() + ways[1:]}.]"
        return (
            f"=======================\n[More: read_file(path={name!r}, offset={window.end}) shows the next part "
            f"({window.total - window.end:,} characters left); {ways}; with a `question`, a model reads the whole file.]"
        )

    async def _extract(self, archive: Path) -> Path:
        """The folder `archive` is extracted to (once), now readable too."""
        if archive not in self._archives:
            if self._workdir is None:
                self._workdir = tempfile.TemporaryDirectory(prefix="omne-archives-")
            folder = Path(self._workdir.name) / f"{len(self._archives):03d}-{archive.stem}"
            docs = self.settings.documents if isinstance(self.settings, OmneSettings) else self.settings
            try:
                await asyncio.to_thread(extract_zip, archive, folder, docs or DocumentSettings())
            except DocumentError as exc:
                raise FileReadError(f"Could not extract {self.roots.display(archive)}: {exc.message}") from exc
            self._archives[archive] = folder
            self.roots.add(folder)
        return self._archives[archive]

    async def _answer(
        self, name: str, document: ConvertedDocument, question: str, token: CancellationToken | None
    ) -> str:
        if self.answerer is None:
            raise FileReadError("question mode needs a model and none is configured; call read_file without a question.")
        try:
            answer = await self.answerer.ask(name, document.text, question, token)
        except TimeoutError as exc:
            raise FileReadError(f"the model did not answer about {name} within {self.answerer.timeout_s:g} s.") from exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a model or transport failure must not end the agent's run
            raise FileReadError(f"the model failed while reading {name} ({type(exc).__name__}: {exc}).") from exc
        return answer.render(name)

    def _listing(self, folder: Path) -> str:
        lines = [f"Folder: {self.roots.display(folder)}", "======================="]
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
        for entry in entries[:500]:
            if entry.is_symlink():
                lines.append(f"{entry.name}  (symbolic link)")
            elif entry.is_dir():
                lines.append(f"{entry.name}/")
            else:
                try:
                    lines.append(f"{entry.name}  ({entry.stat().st_size:,} bytes)")
                except OSError:
                    lines.append(f"{entry.name}  (unreadable)")
        if len(entries) > 500:
            lines.append(f"... and {len(entries) - 500} more")
        if not entries:
            lines.append("(empty)")
        return "\n".join(lines)
