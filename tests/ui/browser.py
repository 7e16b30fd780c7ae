"""Debian's Chromium driven by Playwright, or the plain reason it cannot run here (the tests then skip with it).

`scripts/bootstrap.sh` installs the `chromium` package when it runs as root and it is missing; Playwright's own
browser download is not used (it needs a CDN). `OMNE_TEST_CHROMIUM` names another Chromium binary.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip


def chromium_path() -> str | None:
    wanted = os.environ.get("OMNE_TEST_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).exists() else None
    for name in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(name).exists():
            return name
    return shutil.which("chromium")


def browser_missing() -> str | None:
    """Why the browser tests cannot run, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (it is in the `dev` extra: pip install -e '.[dev]')"
    if chromium_path() is None:
        return (
            "Chromium is not installed: `apt-get install -y chromium` (Debian; scripts/bootstrap.sh does it when run "
            "as root), or set OMNE_TEST_CHROMIUM to a Chromium binary"
        )
    return None
