"""`omne doctor`: one line per check, OK or FAIL with the reason; non-zero exit when any check fails."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from omne_core.config import ModelRoleSettings, OmneSettings

PROBE_PROMPT = "Reply with the single word OK."


class CheckFailed(Exception):
    """A failed check whose message already says what failed and why."""


@dataclass
class CheckResult:
    """The outcome of one check: `detail` says what was found, or why it failed."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.name:<28} {self.detail} ({self.seconds:.1f}s)"


def run_check(name: str, check: Callable[[], str]) -> CheckResult:
    """Run `check`; its return value is the OK detail, any exception is the FAIL reason."""
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a doctor reports every failure instead of stopping at the first
        detail = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
        detail = detail.replace("\n", " ")[:400]
        ok = False
    return CheckResult(name, ok, detail, time.perf_counter() - start)


def check_tokenizer() -> str:
    from omne_core.tokens import count_tokens, encoding_for

    n = count_tokens("Omne counts tokens offline.", "gpt-4o")
    if n <= 0:
        raise RuntimeError("the tokenizer returned no tokens")
    return f"{encoding_for('gpt-4o').name}: 'Omne counts tokens offline.' = {n} tokens"


def check_embeddings(settings: OmneSettings) -> str:
    from omne_core.embeddings import build_embedder

    embedder = build_embedder(settings.embedding)
    vectors = embedder.embed(["Omne remembers.", "Omne forgets nothing."])
    if len(vectors) != 2 or not vectors[0]:
        raise RuntimeError("the embedding model returned no vectors")
    return f"{settings.embedding.backend.value} {settings.embedding.model}: {len(vectors[0])}-dim vectors"


def check_data_dir(settings: OmneSettings) -> str:
    """The data directory is a folder Omne can write (or can be made)."""
    import os
    import tempfile
    from pathlib import Path

    data_dir = Path(settings.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise CheckFailed(f"{data_dir} is a file, not a folder")
    existing = next(p for p in (data_dir, *data_dir.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise CheckFailed(f"{existing} is not writable" + ("" if existing == data_dir else f" (so {data_dir} cannot be made)"))
    if existing == data_dir:
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-"):
            pass
        return f"{data_dir} (writable)"
    return f"{data_dir} (made on first use)"


def check_sqlite(settings: OmneSettings) -> str:
    """The memory database opens, passes SQLite's quick check and has FTS5 (read-only: nothing is changed)."""
    import sqlite3
    from pathlib import Path

    path = Path(settings.data_dir) / settings.memory.sqlite_file
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.OperationalError as exc:
        raise CheckFailed(f"SQLite {sqlite3.sqlite_version} has no FTS5: {exc}") from None
    finally:
        probe.close()
    if not path.exists():
        return f"SQLite {sqlite3.sqlite_version} with FTS5; {path} not created yet"
    if not path.is_file():
        raise CheckFailed(f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise CheckFailed(f"{path} is damaged: {'; '.join(problems[:3])}")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "records" not in tables:
                raise CheckFailed(f"{path} is an SQLite file but not an Omne memory store (no records table)")
            count = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise CheckFailed(f"{path} is not a usable database: {exc}") from None
    return f"{path}: {count} records, quick check ok (SQLite {sqlite3.sqlite_version}, FTS5)"


def check_chroma(settings: OmneSettings) -> str:
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    from omne_core.config import ChromaMode

    client_settings = ChromaClientSettings(anonymized_telemetry=False)
    chroma = settings.chroma
    if chroma.mode is ChromaMode.HTTP:
        client = chromadb.HttpClient(host=chroma.host, port=chroma.port, ssl=chroma.ssl, settings=client_settings)
        where = f"http{'s' if chroma.ssl else ''}://{chroma.host}:{chroma.port}"
    else:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=client_settings)
        where = str(settings.chroma_path)
    client.heartbeat()
    count = client.count_collections()
    return f"{chroma.mode.value} at {where}: {count} collection(s)"


def probe_create_args(role: ModelRoleSettings) -> dict[str, int]:
    """A tiny output budget. Reasoning models spend tokens on reasoning first, so when the model takes
    `max_completion_tokens` (OpenAI's o-series, gpt-5) it gets room to answer."""
    from omne_core.models import output_limit_arg

    field = output_limit_arg(role)
    return {field: 64 if field == "max_completion_tokens" else 1}


def check_model(settings: OmneSettings, role_name: str, role: ModelRoleSettings, timeout_s: float) -> str:
    """Build the role's client the way Omne does and ask for one token."""
    from autogen_core.models import UserMessage

    from omne_core.config import ModelProvider
    from omne_core.models import UsageLedger, create_chat_client

    probe_role = role.model_copy(update={"timeout_s": min(role.timeout_s, timeout_s), "max_retries": 0})
    ledger = UsageLedger()
    where = _model_location(settings, role)

    async def probe() -> str:
        client = create_chat_client(probe_role, settings=settings, usage=ledger, role_name=role_name)
        try:
            result = await asyncio.wait_for(
                client.create(
                    [UserMessage(content=PROBE_PROMPT, source="doctor")], extra_create_args=probe_create_args(role)
                ),
                timeout=timeout_s,
            )
        except TimeoutError as exc:
            raise TimeoutError(f"no answer within {timeout_s:g}s") from exc
        finally:
            await client.close()
        return repr(result.content)[:40]

    try:
        answer = asyncio.run(probe())
    except Exception as exc:
        raise CheckFailed(f"{role.provider.value} {role.model} at {where}: {type(exc).__name__}: {exc}") from exc
    record = ledger.records()[-1]
    detail = f"{role.provider.value} {role.model} at {where} answered {answer}"
    if role.provider is not ModelProvider.LLAMACPP or record.prompt_tokens:
        detail += f" ({record.prompt_tokens}+{record.completion_tokens} tokens)"
    return detail


def _model_location(settings: OmneSettings, role: ModelRoleSettings) -> str:
    from omne_core.config import ModelProvider
    from omne_core.models import resolve_gguf_path

    if role.provider is ModelProvider.LLAMACPP:
        return str(resolve_gguf_path(role))
    if role.provider is ModelProvider.AZURE:
        return str(role.azure_endpoint)
    return role.base_url or "https://api.openai.com/v1"


def model_checks(settings: OmneSettings) -> list[tuple[list[str], ModelRoleSettings]]:
    """Each distinct configured model with the roles that use it (identical roles are probed once)."""
    groups: list[tuple[list[str], ModelRoleSettings]] = []
    for role_name in ("main", "logic_expert", "vision"):
        role = getattr(settings.models, role_name)
        if role is None:
            continue
        for names, seen in groups:
            if seen == role:
                names.append(role_name)
                break
        else:
            groups.append(([role_name], role))
    return groups


def iter_checks(settings: OmneSettings, *, timeout_s: float = 30.0) -> Iterator[CheckResult]:
    """Every doctor check, in order, each result as soon as it is known."""
    yield run_check("tokenizer (offline)", check_tokenizer)
    yield run_check("data directory", lambda: check_data_dir(settings))
    yield run_check("memory database (SQLite)", lambda: check_sqlite(settings))
    yield run_check("embedding model", lambda: check_embeddings(settings))
    yield run_check("chroma", lambda: check_chroma(settings))
    for names, role in model_checks(settings):
        yield run_check(f"model [{', '.join(names)}]", functools.partial(check_model, settings, names[0], role, timeout_s))


def doctor(
    timeout: Annotated[
        float, typer.Option("--timeout", min=1.0, help="Seconds each model endpoint gets to answer.")
    ] = 30.0,
) -> None:
    """Check the embedding model, chroma, the offline tokenizer and every configured model endpoint."""
    from omne_core.config import config_file_path

    from .display import shown
    from .errors import CliError
    from .runtime import load

    try:
        settings = load()
    except CliError as exc:  # invalid env or omne.toml: nothing else can be checked
        typer.secho(shown(f"FAIL  {'settings':<28} {exc}"), fg="red")
        raise typer.Exit(1) from None
    path = config_file_path()
    typer.echo(shown(f"config file: {path} ({'found' if path.exists() else 'not found'}); data dir: {settings.data_dir}"))
    failed = 0
    for result in iter_checks(settings, timeout_s=timeout):
        failed += not result.ok
        typer.secho(shown(result.line()), fg="green" if result.ok else "red")
    if failed:
        typer.secho(f"{failed} check(s) failed.", fg="red")
        raise typer.Exit(1)
    typer.echo("All checks passed.")
