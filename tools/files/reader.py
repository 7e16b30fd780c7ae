"""File reader: the document converter as an agent tool, confined to configured folders."""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient

from omne_core.config import DocumentSettings, OmneSettings
from omne_core.documents import ConvertedDocument, DocumentError, convert_file
from omne_core.models.tokens import count_tokens, truncate_to_tokens

from ..errors import FileReadError
from .ask import DocumentQuestionAnswerer
from .roots import FileRoots

_CACHE_SIZE = 16


class FileReader:
    """Reads a file under the allowed roots as markdown, or answers a question about it with a model.

    Without a question the text is cut to `max_output_tokens`; with one, the whole document is read by
    `model_client` (see `DocumentQuestionAnswerer`). Conversions are cached by path, size and mtime.
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
        self, path: str, question: str | None = None, cancellation_token: CancellationToken | None = None
    ) -> str:
        """The agent-facing text: a folder listing, the file's markdown, or the answer to `question`."""
        real = self.roots.resolve(path)
        if real.is_dir():
            return await asyncio.to_thread(self._listing, real)
        real, document = await self.convert(real)
        name = self.roots.display(real)
        if question and question.strip():
            return await self._answer(name, document, question.strip(), cancellation_token)
        header = [f"File: {name}", f"Type: {document.kind.value} ({document.mime_type})"]
        header += [f"Warning: {w}" for w in document.warnings]
        text = document.text
        total = count_tokens(text)
        if total > self.max_output_tokens:
            text = truncate_to_tokens(text, self.max_output_tokens)
            text += (
                f"\n\n[Truncated: showing the first {self.max_output_tokens} of {total} tokens. Call read_file "
                "again with a `question` to have the whole document read.]"
            )
        return "\n".join(header) + "\n=======================\n" + text

    async def _answer(
        self, name: str, document: ConvertedDocument, question: str, token: CancellationToken | None
    ) -> str:
        if self.answerer is None:
            return "Error: question mode needs a model and none is configured; call read_file without a question."
        try:
            answer = await self.answerer.ask(name, document.text, question, token)
        except TimeoutError:
            return f"Error: the model did not answer about {name} within {self.answerer.timeout_s:g} s."
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a model or transport failure must not end the agent's run
            return f"Error: the model failed while reading {name} ({type(exc).__name__}: {exc})."
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
