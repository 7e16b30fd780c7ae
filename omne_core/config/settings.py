"""`OmneSettings`: the one typed settings object, read from init args > env (OMNE_*) > omne.toml > defaults."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ..errors import ConfigurationError
from .documents import DocumentSettings
from .memory import ChromaSettings, EmbeddingSettings, MemorySettings, StoreSettings
from .models import ModelPrice, ModelsSettings, default_price_table
from .server import ServerSettings
from .web import WebSettings

CONFIG_FILE_ENV = "OMNE_CONFIG"
DEFAULT_CONFIG_FILE = "omne.toml"
REDACTED = "**********"


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "omne"


def config_file_path() -> Path:
    """The TOML file settings are read from: $OMNE_CONFIG, else ./omne.toml."""
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


def _toml_source(settings_cls: type[BaseSettings]) -> TomlConfigSettingsSource:
    """omne.toml, which may be absent; a file named by $OMNE_CONFIG must exist, and any file must parse."""
    path = config_file_path()
    if CONFIG_FILE_ENV in os.environ and not path.is_file():
        raise ConfigurationError(f"{CONFIG_FILE_ENV} names {path}, which is not a file")
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from None


class OmneSettings(BaseSettings):
    """Everything Omne is configured with. Nested env vars use `__`: OMNE_MODELS__MAIN__PROVIDER=openai."""

    model_config = SettingsConfigDict(
        env_prefix="OMNE_",
        env_nested_delimiter="__",
        extra="forbid",  # an unknown key in omne.toml is an error (unknown OMNE_* top-level names are not read)
        populate_by_name=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    documents: DocumentSettings = Field(default_factory=DocumentSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    prices: dict[str, ModelPrice] = Field(default_factory=default_price_table)
    # An AutoGen `ChatCompletionClient` component file (its `dump_component()` JSON) that plays the assistant's
    # model instead of the configured roles: `OMNE_MODEL_COMPONENT=path.json`. Read by
    # `omne_assistant.clients.assistant_client` (and the GAIA default agent); any AutoGen client, e.g. a scripted one.
    model_component: Path | None = None

    # Well-known provider keys, also read from their usual variable names.
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OMNE_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key")
    )
    azure_openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OMNE_AZURE_OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "azure_openai_api_key"),
    )
    llama_cloud_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OMNE_LLAMA_CLOUD_API_KEY", "LLAMA_CLOUD_API_KEY", "llama_cloud_api_key"),
    )
    hf_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OMNE_HF_TOKEN", "HF_TOKEN", "hf_token")
    )

    @field_validator("prices", mode="after")
    @classmethod
    def _merge_default_prices(cls, value: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        """Prices from env or omne.toml override single entries; the other default prices stay."""
        return {**default_price_table(), **value}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _toml_source(settings_cls), file_secret_settings)

    # -- derived paths -------------------------------------------------------------------------
    @property
    def chroma_path(self) -> Path:
        return self.chroma.path or self.data_dir / "chroma"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def redacted(self) -> dict[str, Any]:
        """A JSON-able dump with every secret replaced by a mask: safe to print or log."""
        redacted: dict[str, Any] = _redact_urls(self.model_dump(mode="json"))  # SecretStr serialises as '**********'
        return redacted


_SECRET_QUERY_KEY = re.compile(r"(key|token|secret|password|passwd|sig|signature|auth)", re.IGNORECASE)


_USERINFO_SECRET = re.compile(r"://[^:/?#@\s]*:([^@/?#\s]+)@")
_DSN_SECRET = re.compile(r"(\b(?:\w*password)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`url` with a password in its user info and secret-looking query values (api_key=, token=, ...) masked; a
    keyword/value connection string (`host=db password=...`) with its password masked."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL Python parses (libpq will say why): mask what looks like a password anyway
        return _mask_unparsed(url)
    if not parts.scheme or not parts.netloc:
        return _mask_unparsed(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if _SECRET_QUERY_KEY.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _mask_unparsed(text: str) -> str:
    masked = _DSN_SECRET.sub(rf"\g<1>{REDACTED}", text)
    return _USERINFO_SECRET.sub(lambda m: m.group(0).replace(m.group(1), REDACTED), masked)


def redact_secrets(text: str, url: str) -> str:
    """`text` (a driver's error, a log line) with `url`, and any secret in it, masked wherever they occur: a
    database driver may quote the connection string it could not parse."""
    secrets = {m.group(1) for m in _USERINFO_SECRET.finditer(url)}  # found without parsing: it may not parse
    secrets |= {unquote(secret) for secret in secrets}
    query = url.split("?", 1)[1] if "?" in url else ""
    secrets |= {v for k, v in parse_qsl(query, keep_blank_values=True) if _SECRET_QUERY_KEY.search(k)}
    secrets |= {m.group(2).strip("'") for m in _DSN_SECRET.finditer(url)}
    text = text.replace(url, redact_url(url))
    for secret in sorted(secrets - {""}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _redact_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_urls(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def load_settings(**overrides: Any) -> OmneSettings:
    """Read settings now (env and omne.toml are read at call time, not import time)."""
    return OmneSettings(**overrides)
