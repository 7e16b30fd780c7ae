"""The password of OMNE_STORE__POSTGRES_URL is never shown: not by `omne config show` (text or JSON), not in the
CLI's error when the server is unreachable or the URL malformed (libpq quotes what it cannot parse), not in any
log line (every logger, DEBUG) while the CLI works on a real server."""

from __future__ import annotations

import logging
import secrets

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_core.config.settings import redact_secrets, redact_url
from tests.support.postgres import requires_postgres

PASSWORD = f"pw-{secrets.token_hex(6)}"


def forms(host: str = "db.example:5432") -> dict[str, str]:
    """The ways a password can ride in a connection string: user info, a query parameter, keyword/value."""
    return {
        "userinfo": f"postgresql://omne:{PASSWORD}@{host}/omne",
        "query": f"postgresql://omne@{host}/omne?sslmode=prefer&password={PASSWORD}",
        "keywords": f"host=db.example port=5432 dbname=omne user=omne password='{PASSWORD}'",
    }


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env={"OMNE_STORE__BACKEND": "postgres", **env})


@pytest.mark.parametrize("form", ["userinfo", "query", "keywords"])
@pytest.mark.parametrize("as_json", [False, True])
def test_config_show_never_prints_the_postgres_password(form, as_json):
    result = run({"OMNE_STORE__POSTGRES_URL": forms()[form]}, "config", "show", *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output and "postgres" in result.output and "**********" in result.output


@pytest.mark.parametrize("form", ["userinfo", "query", "keywords"])
def test_masking_keeps_what_locates_the_server(form):
    url = forms()[form]
    masked = redact_url(url)
    assert PASSWORD not in masked and "db.example" in masked and "omne" in masked
    assert PASSWORD not in redact_secrets(f"could not use {url!r} (password {PASSWORD})", url)


@requires_postgres
@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://omne:{PASSWORD}@/omne?host=/nonexistent/socket/dir&connect_timeout=2",  # no server there
        f"postgresql://omne:{PASSWORD}@[::1/omne",  # malformed: libpq's error quotes the whole URI
        f"host=/nonexistent/socket/dir password={PASSWORD} dbname",  # malformed keyword/value string
    ],
    ids=["unreachable", "malformed-uri", "malformed-keywords"],
)
@pytest.mark.parametrize("command", [("memory", "list", "--user", "ana"), ("keys", "list")], ids=["memory", "keys"])
def test_cli_errors_and_logs_never_print_the_password(url, command, caplog):
    """The memory store and the server's key table (its own connection pool) alike: one clear line, at once."""
    caplog.set_level(logging.DEBUG)
    result = run({"OMNE_STORE__POSTGRES_URL": url, "OMNE_STORE__POSTGRES_WAIT_S": "5"}, *command)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "postgres" in result.output.lower()  # says what failed
    assert PASSWORD not in result.output and PASSWORD not in caplog.text


@requires_postgres
def test_nothing_logged_while_the_cli_works_on_a_real_server_holds_the_password(
    postgres_server, postgres_schema, embedder, caplog
):
    caplog.set_level(logging.DEBUG)
    # the bundled test server trusts local connections: any password is accepted, and must never be printed
    url = postgres_server.url_with_password(PASSWORD)
    assert PASSWORD in url
    env = {"OMNE_STORE__POSTGRES_URL": url, "OMNE_STORE__POSTGRES_SCHEMA": postgres_schema}
    outputs = []
    for args in (
        ("memory", "add", "Ana keeps bees on the roof", "--user", "ana"),
        ("memory", "search", "bees", "--user", "ana"),
        ("memory", "stats", "--user", "ana"),
        ("config", "show"),
    ):
        result = run(env, *args)
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "bees" in outputs[1]
    assert not any(PASSWORD in out for out in outputs) and PASSWORD not in caplog.text
