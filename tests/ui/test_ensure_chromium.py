"""`make test` (scripts/bootstrap.sh) runs scripts/ensure_chromium.sh: it finds Chromium, installs it (root + apt), or
says plainly that the browser tests will be skipped and how to install it, and never fails the caller."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure_chromium.sh"


def _run(tmp_path: Path, *, with_chromium: bool) -> subprocess.CompletedProcess[str]:
    """The script with a PATH of only a shell and `id` (no apt-get, so nothing is ever installed by this test)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    candidates = tmp_path / "chromium"
    if with_chromium:
        candidates.write_text("#!/bin/sh\n")
        candidates.chmod(0o755)
    env = {"PATH": str(bin_dir), "OMNE_CHROMIUM_CANDIDATES": str(candidates), "HOME": str(tmp_path)}
    return subprocess.run([str(bin_dir / "bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_without_chromium_and_apt_it_says_the_browser_tests_will_skip_and_how_to_install(tmp_path):
    done = _run(tmp_path, with_chromium=False)
    assert done.returncode == 0  # never fails `make test`
    assert "will be SKIPPED" in done.stderr and "apt-get install -y chromium" in done.stderr
    assert "OMNE_TEST_CHROMIUM" in done.stderr and done.stdout == ""


def test_an_installed_chromium_is_found_silently(tmp_path):
    done = _run(tmp_path, with_chromium=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_test_command_runs_it_before_installing():
    bootstrap = (SCRIPT.parent / "bootstrap.sh").read_text()
    assert os.access(SCRIPT, os.X_OK) and "./scripts/ensure_chromium.sh" in bootstrap
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    assert "test: setup" in makefile and "./scripts/bootstrap.sh" in makefile
