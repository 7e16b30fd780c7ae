"""`StoreConfig`: the settings a store reads, as typed sections; secrets never dumped; the environment decides nothing
but secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from omne_core.config import OmneSettings
from omne_core.memory.store_config import NOT_STORE_SETTINGS, STORE_SECTIONS, StoreConfig


def test_every_setting_is_placed_inside_or_outside_the_store_config():
    """A new settings field must be placed: a store that reads it needs it in `StoreConfig`, or a dumped
    `OmneMemory` would reopen its store with the loading machine's value."""
    fields = set(OmneSettings.model_fields)
    unplaced = fields - set(STORE_SECTIONS) - NOT_STORE_SETTINGS
    assert not unplaced, (
        f"place {sorted(unplaced)}: in store_config.STORE_SECTIONS (and a StoreConfig field) if a store reads it, "
        "else in NOT_STORE_SETTINGS"
    )
    assert set(STORE_SECTIONS) | NOT_STORE_SETTINGS == fields
    assert not set(STORE_SECTIONS) & NOT_STORE_SETTINGS
    assert set(STORE_SECTIONS) == set(StoreConfig.model_fields) - {"kind"}


def test_settings_round_trip_and_the_environment_supplies_only_secrets(tmp_path, monkeypatch):
    settings = OmneSettings(
        data_dir=tmp_path / "a",
        embedding={"backend": "openai", "model": "text-embedding-3-small", "api_key": "sk-secret"},
        chroma={"mode": "http", "port": 8123},
        memory={"dense_candidates": 21},
    )
    config = StoreConfig.from_settings(settings).without_secrets()
    assert config.embedding.api_key is None and settings.embedding.api_key is not None
    dumped = config.model_dump_json()
    assert "sk-secret" not in dumped

    monkeypatch.setenv("OMNE_EMBEDDING__API_KEY", "sk-from-env")
    monkeypatch.setenv("OMNE_CHROMA__PORT", "9999")  # not a secret: the config's value stands
    monkeypatch.setenv("OMNE_MEMORY__DENSE_CANDIDATES", "77")
    reopened = StoreConfig.model_validate_json(dumped).to_settings()
    assert reopened.data_dir == tmp_path / "a"
    assert reopened.chroma.port == 8123 and reopened.memory.dense_candidates == 21
    assert reopened.embedding.api_key is not None and reopened.embedding.api_key.get_secret_value() == "sk-from-env"


@pytest.mark.parametrize(
    "data",
    [
        {"data_dir": "/x", "memory": {"dense_candidate": 3}},
        {"data_dir": "/x", "embedding": {"modle": "m"}},
        {"data_dir": "/x", "chroma": {"mod": "http"}},
        {"data_dir": "/x", "memory": {"fusion": {"lexcal": 0.3}}},
        {"data_dir": "/x", "store": {"backnd": "postgres"}},
        {"data_dir": "/x", "models": {}},
        {"data_dir": "/x", "kind": "server"},
        {"embedding": {}},
    ],
)
def test_unknown_or_missing_fields_are_rejected(data):
    with pytest.raises(ValidationError):
        StoreConfig.model_validate(data)
