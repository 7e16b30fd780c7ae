"""The `omne` CLI: fast --version/--help without heavy imports, and `omne doctor` exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_core.version import __version__
from tests.support.local_model import requires_local
from tests.support.servers import free_port, json_server

HEAVY = ["torch", "chromadb", "llama_cpp", "sentence_transformers", "transformers"]
OMNE = Path(sys.executable).with_name("omne")


def test_version_and_help_from_the_installed_script():
    version = subprocess.run([str(OMNE), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"omne {__version__}"
    help_ = subprocess.run([str(OMNE), "--help"], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0
    for command in ("config", "doctor", "memory", "chat", "gaia", "demo"):
        assert command in help_.stdout


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["doctor", "--help"], ["config", "--help"]])
def test_cli_does_not_import_heavy_libraries(args):
    script = textwrap.dedent(
        f"""
        import json, sys
        from omne_cli.app import app
        try:
            app({args!r})
        except SystemExit as exit:
            code = exit.code
        print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"code": 0, "heavy": []}


def test_doctor_fails_when_a_model_endpoint_is_down(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/v1"
    for role in ("MAIN", "LOGIC_EXPERT"):
        monkeypatch.setenv(f"OMNE_MODELS__{role}__PROVIDER", "openai_compatible")
        monkeypatch.setenv(f"OMNE_MODELS__{role}__MODEL", "llama3")
        monkeypatch.setenv(f"OMNE_MODELS__{role}__BASE_URL", url)
    result = CliRunner().invoke(app, ["doctor", "--timeout", "5"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    (model_line,) = [line for line in lines if "model [main, logic_expert]" in line]
    assert model_line.startswith("FAIL") and "APIConnectionError" in model_line and url in model_line
    assert any(line.startswith("OK") and "tokenizer" in line for line in lines), result.output
    assert "1 check(s) failed." in result.output


def test_doctor_fails_on_a_missing_key_and_a_broken_config(monkeypatch, tmp_path):
    monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "openai")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__PROVIDER", "llamacpp")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__GGUF_PATH", str(tmp_path / "missing.gguf"))
    result = CliRunner().invoke(app, ["doctor", "--timeout", "5"])
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.output and "missing.gguf" in result.output
    monkeypatch.setenv("OMNE_CHROMA__PORT", "not-a-port")
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1 and result.stdout.startswith("FAIL  settings")


@requires_local
def test_doctor_passes_on_the_offline_defaults(bundled_gguf, shared_data_dir, monkeypatch):
    monkeypatch.setenv("OMNE_DATA_DIR", str(shared_data_dir))  # the bundled GGUF is already in the model cache
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    checks = [line for line in result.stdout.splitlines() if line.startswith(("OK", "FAIL"))]
    assert [line.split()[1] for line in checks] == ["tokenizer", "data", "memory", "embedding", "chroma", "model"]
    assert all(line.startswith("OK") for line in checks)
    assert "384-dim" in result.output and str(bundled_gguf) in result.output
    assert result.stdout.rstrip().endswith("All checks passed.")


@pytest.mark.filterwarnings("ignore:Resolved model mismatch")  # the stand-in server echoes the undated name
@pytest.mark.parametrize(
    ("model", "sent", "not_sent"),
    [("o3-mini", "max_completion_tokens", "max_tokens"), ("gpt-4o", "max_tokens", "max_completion_tokens")],
)
def test_doctor_probe_uses_the_token_limit_the_model_accepts(monkeypatch, model, sent, not_sent):
    def route(method: str, path: str, body: bytes) -> tuple[int, dict]:
        request = json.loads(body)
        if not_sent in request:  # what OpenAI answers a reasoning model sent max_tokens
            return 400, {"error": {"message": f"Unsupported parameter: '{not_sent}'", "type": "invalid_request_error"}}
        return 200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
        }

    with json_server(route) as (url, seen):
        for role in ("MAIN", "LOGIC_EXPERT"):
            monkeypatch.setenv(f"OMNE_MODELS__{role}__PROVIDER", "openai")
            monkeypatch.setenv(f"OMNE_MODELS__{role}__MODEL", model)
            monkeypatch.setenv(f"OMNE_MODELS__{role}__BASE_URL", f"{url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        result = CliRunner().invoke(app, ["doctor", "--timeout", "10"])

    (model_line,) = [line for line in result.stdout.splitlines() if "model [main, logic_expert]" in line]
    assert model_line.startswith("OK"), result.output
    [(_, path, body)] = [item for item in seen if item[0] == "POST"]
    assert path == "/v1/chat/completions" and sent in json.loads(body)
