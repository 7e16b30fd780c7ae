"""The source tree under test, for the real processes tests start (`python -m omne_cli`, `python -c ...`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tree_pythonpath() -> str:
    """PYTHONPATH for a child process: the caller's own first (a worktree's `.pyshim`, which maps `omne_tools` and
    `omne_eval` onto `tools/` and `eval/`), then the repository root. The root alone would take those two packages
    from wherever the editable install points, not from the tree under test."""
    return os.pathsep.join(p for p in (os.environ.get("PYTHONPATH", ""), str(REPO)) if p)
