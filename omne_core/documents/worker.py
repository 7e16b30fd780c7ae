"""Converters run in worker processes so a hanging or crashing parser can be killed, never the caller.

A worker is `python -m omne_core.documents.worker`: it reads pickled `(target, path, job, sys.path)` frames on
stdin and writes `("ok", document)` or `("error", exception)` frames back. The pool keeps idle
workers for reuse (imports are paid once) and kills a worker whose call exceeds its time limit.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import selectors
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, BinaryIO

from .errors import (
    ConversionCancelledError,
    ConversionTimeoutError,
    ConverterCrashedError,
    CorruptFileError,
    DocumentError,
)

_HEADER = struct.Struct(">Q")
_POLL_S = 0.2  # how often a waiting call checks for cancellation


def run_converter(target: str, path: str, job: Any) -> Any:
    """Import `target` (`module:function`) and convert; unexpected errors become `CorruptFileError`."""
    module_name, _, attr = target.partition(":")
    function = getattr(importlib.import_module(module_name), attr)
    try:
        return function(path, job)
    except DocumentError:
        raise
    except MemoryError as exc:
        raise ConverterCrashedError("the converter ran out of memory", job.source) from exc
    except RecursionError as exc:
        raise CorruptFileError("the file is nested too deeply to parse", job.source) from exc
    except Exception as exc:
        raise CorruptFileError(f"could not convert: {type(exc).__name__}: {exc}", job.source) from exc


# -- worker side ------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _serve() -> None:
    """The worker loop: protocol on the original stdout; anything converters print goes to stderr."""
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    proto_in = sys.stdin.buffer
    while True:
        header = _read_exact(proto_in, _HEADER.size)
        if header is None:
            return
        payload = _read_exact(proto_in, _HEADER.unpack(header)[0])
        if payload is None:
            return
        try:
            target, path, job, import_paths = pickle.loads(payload)
            sys.path.extend(p for p in import_paths if p not in sys.path)
            reply: tuple[str, Any] = ("ok", run_converter(target, path, job))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, the worker lives on
            error = exc if isinstance(exc, DocumentError) else CorruptFileError(f"{type(exc).__name__}: {exc}")
            reply = ("error", error)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable result or error
            data = pickle.dumps(("error", CorruptFileError(f"unpicklable conversion result: {exc}")))
        proto_out.write(_HEADER.pack(len(data)) + data)
        proto_out.flush()


# -- parent side ------------------------------------------------------------------------------


class _Worker:
    """One worker process and its pipes."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "omne_core.documents.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout: IO[bytes] = self.process.stdout

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.stderr.close()

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode("utf-8", errors="replace")[-limit:].strip()
        except (OSError, ValueError):
            return ""

    def call(
        self, request: tuple[str, str, Any, list[str]], timeout: float, source: str, cancel: threading.Event | None
    ) -> Any:
        """Send one request and wait at most `timeout` seconds (or until `cancel` is set) for the reply."""
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.stdin.write(_HEADER.pack(len(data)) + data)
            self.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ConverterCrashedError(f"converter worker is gone: {exc}", source) from exc
        deadline = time.monotonic() + timeout
        header = self._read(_HEADER.size, deadline, timeout, source, cancel)
        status, value = pickle.loads(self._read(_HEADER.unpack(header)[0], deadline, timeout, source, cancel))
        if status == "error":
            raise value
        return value

    def _read(
        self, size: int, deadline: float, timeout: float, source: str, cancel: threading.Event | None
    ) -> bytes:
        fd = self.stdout.fileno()
        chunks, remaining = [], size
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while remaining:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConversionTimeoutError(f"conversion took longer than {timeout:g} s; worker killed", source)
                if cancel is not None and cancel.is_set():
                    raise ConversionCancelledError("conversion cancelled; worker killed", source)
                if not selector.select(min(left, _POLL_S)):
                    continue
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    code = self.process.wait()
                    tail = self.stderr_tail()
                    raise ConverterCrashedError(
                        f"converter worker died (exit code {code})" + (f": {tail}" if tail else ""), source
                    )
                chunks.append(chunk)
                remaining -= len(chunk)
        return b"".join(chunks)


class ConverterPool:
    """Up to `max_workers` reusable worker processes; a call that times out or crashes loses its worker."""

    def __init__(self, max_workers: int = 1) -> None:
        self.max_workers = max(1, max_workers)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_workers)

    def run(
        self, target: str, path: str | Path, job: Any, timeout: float, cancel: threading.Event | None = None
    ) -> Any:
        """Convert in a worker (blocking; call through `asyncio.to_thread`). Setting `cancel` kills it."""
        with self._slots:
            worker = self._acquire()
            try:
                request = (target, str(path), job, [p for p in sys.path if p])
                result = worker.call(request, timeout, job.source, cancel)
            except (ConversionTimeoutError, ConversionCancelledError, ConverterCrashedError):
                self._discard(worker)
                raise
            except DocumentError:
                self._release(worker)
                raise
            except BaseException:
                self._discard(worker)
                raise
            self._release(worker)
            return result

    def _acquire(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.discard(worker)
                worker.kill()
            worker = _Worker()
            self._all.add(worker)
            return worker

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            worker.kill()


_default_pool: ConverterPool | None = None
_default_lock = threading.Lock()


def default_pool(max_workers: int) -> ConverterPool:
    """The process-wide pool (created on first use, stopped at exit)."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = ConverterPool(max_workers)
            atexit.register(_default_pool.close)
        return _default_pool


def run_in_thread(target: str, path: str | Path, job: Any) -> Any:
    """The no-isolation path (DocumentSettings.isolate_converters=False): same errors, no kill on timeout."""
    return run_converter(target, str(path), job)


if __name__ == "__main__":
    _serve()
