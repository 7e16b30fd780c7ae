"""`omne config show`: the effective settings, secrets redacted."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of TOML-like text.")) -> None:
    """Print the effective settings (env > omne.toml > defaults) with every secret masked."""
    from omne_core.config import config_file_path

    from .display import echo_json, styled, terminal
    from .runtime import load

    data = load().redacted()
    if as_json:
        echo_json(data)
        return
    from rich.pretty import Pretty

    console = terminal()
    path = config_file_path()
    console.print(styled(("config file: ", "bold"), f"{path} ({'found' if path.exists() else 'not found'})"))
    console.print(Pretty(data, expand_all=True))
