"""One process at a time on an embedded data directory: an exclusive `flock` on `<data_dir>/omne.lock`.

Embedded chroma and the SQLite write path assume a single process, so a second process opening the same data
directory gets `DataDirectoryInUseError` naming the holder (pid, command) and the ways out, instead of a
corrupt index. The kernel drops the lock when the holder closes it or dies (even by SIGKILL), so a crash never
leaves the directory locked. Stores opened in one process share one lock (counted), so several `MemoryStore`s
of one application on one directory keep working.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...errors import DataDirectoryInUseError

LOCK_FILE = "omne.lock"


@dataclass
class _Held:
    fd: int
    pid: int  # the process that took it (a forked child must not think it holds it)
    count: int


_held: dict[Path, _Held] = {}
_registry_lock = threading.Lock()


def _holder_text(fd: int) -> str:
    """`pid N (command), since T` from the lock file's contents, or a plain note when they are unreadable."""
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8"))
        return f"pid {int(info['pid'])} ({str(info.get('command', '?'))[:200]}), since {info.get('since', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its details are unreadable)"


def _describe_self() -> bytes:
    command = " ".join([Path(sys.argv[0]).name or sys.executable, *sys.argv[1:]]) if sys.argv else sys.executable
    info = {"pid": os.getpid(), "command": command, "since": datetime.now(UTC).isoformat(timespec="seconds")}
    return json.dumps(info).encode("utf-8")


def acquire(data_dir: Path) -> Path:
    """Take (or share, within this process) the lock of `data_dir`; returns the key to `release` it with.

    Raises DataDirectoryInUseError when another process holds it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    key = data_dir.resolve()
    with _registry_lock:
        held = _held.get(key)
        if held is not None and held.pid == os.getpid():
            held.count += 1
            return key
        path = key / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(fd)
            os.close(fd)
            raise DataDirectoryInUseError(
                f"the memory data directory {key} is in use by {holder}. The embedded store (SQLite + chroma) "
                "serves one process at a time: close that process, or share one memory between processes "
                "through the Omne server (`omne serve`) or PostgreSQL "
                "(OMNE_STORE__BACKEND=postgres, OMNE_STORE__POSTGRES_URL=postgresql://...)."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, _describe_self(), 0)
        _held[key] = _Held(fd=fd, pid=os.getpid(), count=1)
        return key


def release(key: Path) -> None:
    """Give back one hold of the lock taken by `acquire`; the last one in the process unlocks the directory."""
    with _registry_lock:
        held = _held.get(key)
        if held is None or held.pid != os.getpid():
            return
        held.count -= 1
        if held.count > 0:
            return
        del _held[key]
        try:
            os.ftruncate(held.fd, 0)
        finally:
            os.close(held.fd)  # closing the descriptor releases the flock
