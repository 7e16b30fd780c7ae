"""llama.cpp's own log lines, routed to the Python logger `llama_cpp` instead of the terminal.

llama-cpp-python (0.3.x) reads ggml's log levels with an older numbering (its 3 is ERROR, ggml's is WARN), so
with `verbose=False` it still prints every llama.cpp warning ("llama_kv_cache_iswa: using full-size SWA cache")
under `omne chat`, `omne demo` and `omne memory reflect`. Here errors stay errors and everything else is
debug output, numbered as ggml.h does: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the line before).
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

import llama_cpp

logger = logging.getLogger("llama_cpp")
_ERROR, _CONT = 4, 5
_last = logging.DEBUG  # the level a CONT line continues


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _route(level: int, text: bytes, user_data: Any) -> None:
    global _last
    _last = _last if level == _CONT else logging.ERROR if level == _ERROR else logging.DEBUG
    line = text.decode("utf-8", errors="replace").rstrip("\n")
    if line:
        logger.log(_last, "%s", line)


def install() -> None:
    """Route llama.cpp's log through `_route` (process-wide, as llama.cpp's log callback is)."""
    llama_cpp.llama_log_set(_route, ctypes.c_void_p(0))
