"""The `omne` command line. Sub-command modules import heavy libraries inside their commands only,
so `omne --help` and `omne --version` stay fast."""

from __future__ import annotations

import typer

from omne_core.version import __version__

from . import chat_cmd, config_cmd, demo_cmd, doctor_cmd, gaia_cmd, keys_cmd, mcp_cmd, memory_cmd, serve_cmd
from .errors import OmneGroup

app = typer.Typer(
    name="omne",
    cls=OmneGroup,  # known errors of every command become one-line messages
    rich_markup_mode=None,  # usage errors as one plain line (`Error: Invalid value for ...`), not a wrapped panel
    help="Omne: long-term memory for AutoGen agents, and a GAIA-grade assistant built on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"omne {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Omne command line."""


app.add_typer(config_cmd.app, name="config")
app.command("doctor")(doctor_cmd.doctor)
app.add_typer(memory_cmd.app, name="memory")
app.command("chat")(chat_cmd.chat)
app.add_typer(gaia_cmd.app, name="gaia")
app.command("demo")(demo_cmd.demo)
app.command("serve")(serve_cmd.serve)
app.command("mcp")(mcp_cmd.mcp)
app.add_typer(keys_cmd.app, name="keys")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
