"""`omne config show`: the effective settings, secrets redacted."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of TOML-like text.")) -> None:
    """Print the effective settings (env > omne.toml > defaults) with every secret masked."""
    from omne_core.config import config_file_path, load_settings

    settings = load_settings()
    data = settings.redacted()
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    from rich.console import Console
    from rich.pretty import Pretty

    console = Console()
    path = config_file_path()
    console.print(f"[bold]config file:[/bold] {path} ({'found' if path.exists() else 'not found'})")
    console.print(Pretty(data, expand_all=True))
