"""Running the CLI in tests: typer's runner in-process, or the real `omne` command in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner, Result

from omne_cli.app import app
from tests.support.tree import tree_pythonpath

OMNE = [sys.executable, "-m", "omne_cli"]  # what the `omne` script runs (omne_cli.app:main)


def invoke(*args: str, input: str | None = None) -> Result:
    """`omne ARGS` through typer's runner (same process, real store under the test's data directory)."""
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str, input: str | None = None) -> str:
    result = invoke(*args, input=input)
    assert result.exit_code == 0 and result.exception is None, result.output + repr(result.exception)
    return result.output


def omne(*args: str, env: dict[str, str] | None = None, no_root_override: bool = False, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `omne` command in a subprocess, on the tree under test.

    `no_root_override`: as root, drop the capabilities that ignore file permissions, so a read-only folder is
    read-only for the command too.
    """
    command = [*OMNE, *args]
    if no_root_override and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file permissions cannot be enforced")
        caps = "-dac_override,-dac_read_search,-fowner"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    full_env = {**os.environ, "PYTHONPATH": tree_pythonpath(), **(env or {})}
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=timeout)


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Assert the command failed with one `error: ...` line on stderr and no Traceback; return that line."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def flat(text: str) -> str:
    """Output with whitespace runs and the box drawing of tables and usage panels collapsed to one space."""
    return re.sub(r"[\s│╭╮╰╯─┃━┏┓┗┛┡┩└┘┴┬┼╇┳┻]+", " ", text)
