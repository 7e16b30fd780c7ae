"""Content-addressed blob store: binary parts (images, files, audio) kept once per distinct content.

A blob's reference is the SHA-256 of its bytes, so the same bytes stored twice give one file.
Writes go to a temporary file first and are renamed into place, so a crash never leaves a torn blob.

Every write is journaled until a record cites the blob: `put_*` leaves a marker `.pending/<ref>.<pid>` (and
writes its temporary file there too) that the memory store removes once the records citing the blob are
committed (`settle`). A process killed in between leaves markers and temporary files of a dead pid behind;
`stale()` lists them, so the store deletes what no record cites (`MemoryStore` does at open and after a
forget). Markers of a live process are never touched: its writes may still be on their way to a record.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import StorageError

_REF = re.compile(r"^[0-9a-f]{64}$")
PENDING = ".pending"
_MARKER = re.compile(r"^(?P<ref>[0-9a-f]{64})\.(?P<pid>\d+)$")
_TEMP = re.compile(r"^\.tmp-(?P<pid>\d+)-")
_COPY_BLOCK = 1 << 20


class BlobNotFoundError(StorageError, KeyError):
    """No blob has this reference."""


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


class BlobStore:
    """Blobs under `root/ab/cdef...`; refs are sha256 hex digests."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.pending_dir = self.root / PENDING

    def path_for(self, ref: str) -> Path:
        if not _REF.match(ref):
            raise ValueError(f"not a blob reference (sha256 hex expected): {ref!r}")
        return self.root / ref[:2] / ref[2:]

    def _temp(self) -> tuple[int, str]:
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.pending_dir, prefix=f".tmp-{os.getpid()}-")

    def _install(self, tmp: str, ref: str) -> str:
        """Journal `ref` as pending, then move the written temporary file into place (or drop it: a copy exists)."""
        (self.pending_dir / f"{ref}.{os.getpid()}").touch()
        target = self.path_for(ref)
        if target.exists():
            Path(tmp).unlink(missing_ok=True)
            return ref
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        return ref

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; return its reference (pending until `settle`). Idempotent."""
        fd, tmp = self._temp()
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return self._install(tmp, hashlib.sha256(data).hexdigest())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, path: str | Path) -> str:
        """Store a file's bytes, copied and hashed block by block (never whole in memory); return its reference."""
        fd, tmp = self._temp()
        try:
            digest = hashlib.sha256()
            with Path(path).open("rb") as source, os.fdopen(fd, "wb") as fh:
                while block := source.read(_COPY_BLOCK):
                    digest.update(block)
                    fh.write(block)
                fh.flush()
                os.fsync(fh.fileno())
            return self._install(tmp, digest.hexdigest())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def settle(self, refs: Iterable[str]) -> None:
        """These blobs are cited by committed records: drop this process's pending markers for them."""
        for ref in set(refs):
            (self.pending_dir / f"{ref}.{os.getpid()}").unlink(missing_ok=True)

    def stale(self) -> tuple[list[str], list[Path]]:
        """Refs journaled by processes that are gone (their blobs may be cited by no record), and the journal
        files to remove once those are dealt with (markers and temporary files of dead processes)."""
        try:
            entries = list(os.scandir(self.pending_dir))
        except FileNotFoundError:
            return [], []
        refs: set[str] = set()
        live: set[str] = set()  # refs a live process is writing: never deleted
        leftovers: list[Path] = []
        for entry in entries:
            marker, temp = _MARKER.match(entry.name), _TEMP.match(entry.name)
            found = marker or temp
            if found is None:
                continue
            if _alive(int(found["pid"])):
                if marker is not None:
                    live.add(marker["ref"])
                continue
            if marker is not None:
                refs.add(marker["ref"])
            leftovers.append(Path(entry.path))
        return sorted(refs - live), leftovers

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

    async def aput_file(self, path: str | Path) -> str:
        return await asyncio.to_thread(self.put_file, path)

    async def aget_bytes(self, ref: str) -> bytes:
        return await asyncio.to_thread(self.get_bytes, ref)
