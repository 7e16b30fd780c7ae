"""Settings precedence (init > env > omne.toml > defaults) and secret redaction in `omne config show`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omne_cli.app import app
from omne_core.config import REDACTED, ModelProvider, OmneSettings, load_settings
from omne_core.config.models import default_price_table

TOML = """
data_dir = "{data_dir}"
openai_api_key = "sk-file-0123456789"

[models.main]
provider = "openai"
model = "gpt-4o-mini"
temperature = 0.3
max_tokens = 256

[models.logic_expert]
provider = "openai_compatible"
model = "qwen2.5-7b"
base_url = "http://127.0.0.1:11434/v1"

[chroma]
mode = "http"
port = 8123

[prices."qwen2.5-7b"]
input_per_mtok = 0.2
output_per_mtok = 0.4
"""


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = Path(os.environ["OMNE_CONFIG"])
    path.write_text(TOML.format(data_dir=tmp_path / "from-file"))
    return path


def test_defaults_without_file_or_env(tmp_path, monkeypatch):
    monkeypatch.delenv("OMNE_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    settings = load_settings()
    assert settings.data_dir == tmp_path / "xdg" / "omne"
    assert settings.models.main.provider is ModelProvider.LLAMACPP
    assert settings.models.main.gguf_path is None
    assert settings.models.vision is None
    assert settings.chroma_path == settings.data_dir / "chroma"
    assert settings.openai_api_key is None
    assert settings.prices == default_price_table()


def test_file_overrides_defaults(config_file, tmp_path, monkeypatch):
    monkeypatch.delenv("OMNE_DATA_DIR")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-file"
    assert settings.models.main.provider is ModelProvider.OPENAI
    assert settings.models.main.model == "gpt-4o-mini"
    assert settings.models.logic_expert.base_url == "http://127.0.0.1:11434/v1"
    assert settings.chroma.mode.value == "http" and settings.chroma.port == 8123
    assert settings.chroma.host == "127.0.0.1"  # untouched default inside an overridden table
    assert settings.openai_api_key.get_secret_value() == "sk-file-0123456789"


def test_env_overrides_file_field_by_field(config_file, tmp_path, monkeypatch):
    monkeypatch.setenv("OMNE_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "gpt-4.1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-9876543210")
    monkeypatch.setenv("OMNE_CHROMA__PORT", "9000")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.models.main.model == "gpt-4.1"  # env
    assert settings.models.main.temperature == 0.3  # file, same table
    assert settings.models.main.provider is ModelProvider.OPENAI  # file
    assert settings.chroma.port == 9000 and settings.chroma.mode.value == "http"
    assert settings.openai_api_key.get_secret_value() == "sk-env-9876543210"


def test_omne_prefixed_key_and_init_args_win(config_file, monkeypatch):
    monkeypatch.setenv("OMNE_OPENAI_API_KEY", "sk-omne-prefixed")
    assert load_settings().openai_api_key.get_secret_value() == "sk-omne-prefixed"
    assert load_settings(data_dir="/tmp/init-arg").data_dir == Path("/tmp/init-arg")


def test_price_overrides_keep_the_default_table(config_file):
    prices = load_settings().prices
    assert prices["qwen2.5-7b"].input_per_mtok == 0.2
    assert prices["gpt-4o"] == default_price_table()["gpt-4o"]


def test_invalid_value_is_a_validation_error(monkeypatch):
    monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "not-a-provider")
    with pytest.raises(ValueError, match="provider"):
        OmneSettings()


SECRETS = {
    "OPENAI_API_KEY": "sk-openai-SECRET-1111",
    "AZURE_OPENAI_API_KEY": "az-SECRET-2222",
    "LLAMA_CLOUD_API_KEY": "llx-SECRET-3333",
    "HF_TOKEN": "hf_SECRET_4444",
    "OMNE_MODELS__MAIN__API_KEY": "sk-role-SECRET-5555",
    "OMNE_EMBEDDING__API_KEY": "sk-embed-SECRET-6666",
}


@pytest.mark.parametrize("as_json", [False, True])
def test_config_show_prints_no_secret(config_file, monkeypatch, as_json):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__BASE_URL", "https://bob:pw-SECRET-7777@llm.example/v1?api_key=q-SECRET-8888&x=1")
    result = CliRunner().invoke(app, ["config", "show", *(["--json"] if as_json else [])])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "SECRET" not in out
    assert "sk-file-0123456789" not in out
    assert REDACTED in out
    assert "gpt-4o-mini" in out and "llm.example" in out  # the non-secret settings are shown
    if as_json:
        data = json.loads(out)
        assert data["openai_api_key"] == REDACTED
        assert data["models"]["main"]["api_key"] == REDACTED
        assert data["models"]["logic_expert"]["base_url"] == f"https://bob:{REDACTED}@llm.example/v1?api_key={REDACTED}&x=1"
