"""`omne gaia ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="gaia commands.", no_args_is_help=True)
