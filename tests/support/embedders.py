"""A deterministic embedder without a model, for tests whose subject is storage (many processes, locks)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


class HashEmbedder:
    """Unit vectors from a text's sha256: the same text, the same vector, in any process."""

    name, dimension = "hash-16", 16

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            v = [b - 127.5 for b in hashlib.sha256(text.encode()).digest()[: self.dimension]]
            norm = sum(x * x for x in v) ** 0.5
            out.append([x / norm for x in v])
        return out


class RecordingEmbedder(HashEmbedder):
    """A `HashEmbedder` that keeps the texts of each call (what a store chose to encode)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return super().embed(texts)
