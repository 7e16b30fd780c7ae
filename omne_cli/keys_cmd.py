"""`omne keys create|list|revoke`: the server's API keys (one tenant each; read-write or read-only)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .display import echo, echo_json
from .runtime import load

app = typer.Typer(help="API keys of `omne serve`: create (shown once), list, revoke.", no_args_is_help=True)


def _with_keys(work: Any) -> Any:
    """Open the key table the settings name, run `work`, close; a refused operation is an `OmneError` that the
    CLI's top-level handler prints as one line."""
    from omne_server.app import open_key_store

    async def main() -> Any:
        keys = open_key_store(load())
        try:
            return await work(keys)
        finally:
            await keys.close()

    return asyncio.run(main())


@app.command()
def create(
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The tenant the key belongs to (a-z, 0-9, _).")],
    read_only: Annotated[bool, typer.Option("--read-only", help="The key may read and search, not write.")] = False,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key by in `omne keys list`.")] = None,
) -> None:
    """Create a key and print it once: it is stored only as a hash and cannot be shown again."""
    key, token = _with_keys(lambda keys: keys.create(tenant, read_only=read_only, label=label))
    echo(token)
    mode = "read-only" if key.read_only else "read-write"
    echo(f"key {key.key_id} for tenant {key.tenant} ({mode}); store it now, it is not shown again", err=True)


@app.command("list")
def list_(
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant's keys.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (ids, tenants, modes; never the secrets)."""
    keys = _with_keys(lambda store: store.list(tenant, include_revoked=include_revoked))
    if as_json:
        echo_json([k.model_dump(mode="json") for k in keys])
        return
    if not keys:
        echo("no keys")
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else ("read-only" if k.read_only else "read-write")
        echo(f"{k.key_id}  {k.tenant:<20} {state:<22} {k.created_at:%Y-%m-%d %H:%M}  {k.label or ''}".rstrip())


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (from `omne keys list`).")]) -> None:
    """Revoke a key: servers refuse it within a few seconds (`OMNE_SERVER__KEY_CACHE_S`)."""
    key = _with_keys(lambda keys: keys.revoke(key_id))
    echo(f"revoked {key.key_id} (tenant {key.tenant})")
