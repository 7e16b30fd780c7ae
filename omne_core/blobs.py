"""Content-addressed blob store: binary parts (images, files, audio) kept once per distinct content.

A blob's reference is the SHA-256 of its bytes, so the same bytes stored twice give one file.
Writes go to a temporary file first and are renamed into place, so a crash never leaves a torn blob.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path

from .errors import StorageError

_REF = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFoundError(StorageError, KeyError):
    """No blob has this reference."""


class BlobStore:
    """Blobs under `root/ab/cdef...`; refs are sha256 hex digests."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError(f"not a blob reference (sha256 hex expected): {ref!r}")
        return self.root / ref[:2] / ref[2:]

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its reference. Idempotent."""
        ref = hashlib.sha256(data).hexdigest()
        target = self.path_for(ref)
        if target.exists():
            return ref
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def put_file(self, path: str | Path) -> str:
        """Store a file's bytes; return its reference."""
        return self.put_bytes(Path(path).read_bytes())

    def get_bytes(self, ref: str) -> bytes:
        path = self.path_for(ref)
        if not path.exists():
            raise BlobNotFoundError(ref)
        return path.read_bytes()

    def exists(self, ref: str) -> bool:
        return self.path_for(ref).exists()

    def delete(self, ref: str) -> bool:
        """Remove a blob; True if it existed."""
        path = self.path_for(ref)
        try:
            path.unlink()
            return True
        except FileNotFoundError:
            return False

    async def aput_bytes(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put_bytes, data)

    async def aget_bytes(self, ref: str) -> bytes:
        return await asyncio.to_thread(self.get_bytes, ref)
