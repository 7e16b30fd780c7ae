"""`StoreConfig`: what opens a `MemoryStore` in this process, as typed settings sections (no free dict).

It is the part of `OmneSettings` a store reads, so a component that dumps it (`OmneMemory`) reopens the same
store wherever it is loaded, whatever that machine's environment says. Secrets (API keys) are never written
into a dump: a loaded config takes them from the environment (`OMNE_EMBEDDING__API_KEY`, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ..config import (
    ChromaSettings,
    EmbeddingSettings,
    MemorySettings,
    OmneSettings,
    StoreSettings,
    load_settings,
)

# The sections of `OmneSettings` a store reads. tests/memory/test_store_config.py checks that every other
# settings field is named in `NOT_STORE_SETTINGS`, so a new setting has to be placed on one side or the other.
STORE_SECTIONS = ("data_dir", "embedding", "chroma", "memory", "store")
_MODEL_SECTIONS = STORE_SECTIONS[1:]  # the settings sections that are models (each a field of `StoreConfig`)
NOT_STORE_SETTINGS = frozenset(
    {"models", "documents", "web", "server", "prices", "openai_api_key", "azure_openai_api_key", "llama_cloud_api_key",
     "hf_token", "model_component"}
)


class StoreConfig(BaseModel):
    """A store opened in this process: its data directory and the settings sections it reads.

    Sections left out take Omne's defaults, not the environment: the config alone says which store it is.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["in_process"] = "in_process"
    data_dir: Path
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)  # the backend; its postgres_url is a secret

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_section_fields(cls, data: Any) -> Any:
        """The settings sections ignore unknown keys; a config must not (a typo would silently change the store)."""
        if isinstance(data, dict):
            unknown = [key for name in _MODEL_SECTIONS for key in _unknown_keys(_model_of(cls, name), data.get(name), name)]
            if unknown:
                raise ValueError(f"unknown store setting(s): {', '.join(unknown)}")
        return data

    @classmethod
    def from_settings(cls, settings: OmneSettings) -> StoreConfig:
        return cls(**{name: getattr(settings, name) for name in STORE_SECTIONS})

    def without_secrets(self) -> StoreConfig:
        """The same config with every secret left out (what a dump may hold)."""
        return self.model_copy(update={name: _no_secrets(getattr(self, name)) for name in _MODEL_SECTIONS})

    def to_settings(self) -> OmneSettings:
        """Settings for opening this store; secrets the config leaves out come from the environment."""
        sections: dict[str, Any] = {"data_dir": self.data_dir}
        sections.update({name: _as_settings_input(getattr(self, name)) for name in _MODEL_SECTIONS})
        return load_settings(**sections)


def _model_of(owner: type[BaseModel], field: str) -> type[BaseModel] | None:
    """The model class a field holds, if it holds one."""
    annotation = owner.model_fields[field].annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _unknown_keys(model: type[BaseModel] | None, data: Any, path: str) -> list[str]:
    """Dotted paths of the keys in `data` that `model` (and its nested models) does not have."""
    if model is None or not isinstance(data, dict):
        return []
    out = [f"{path}.{key}" for key in data if key not in model.model_fields]
    for key, value in data.items():
        if key in model.model_fields:
            out.extend(_unknown_keys(_model_of(model, key), value, f"{path}.{key}"))
    return out


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


def _no_secrets(section: BaseModel) -> BaseModel:
    """The section with every secret (nested ones too) set to None."""
    update: dict[str, Any] = {}
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if _is_secret(field.annotation):
            update[name] = None
        elif isinstance(value, BaseModel):
            update[name] = _no_secrets(value)
    return section.model_copy(update=update)


def _as_settings_input(section: BaseModel) -> dict[str, Any]:
    """The section as settings input, leaving out secrets it does not hold (the environment supplies them)."""
    out: dict[str, Any] = {}
    for name, field in type(section).model_fields.items():
        value = getattr(section, name)
        if value is None and _is_secret(field.annotation):
            continue
        out[name] = _as_settings_input(value) if isinstance(value, BaseModel) else value
    return out


class ServerStoreConfig(BaseModel):
    """A store on an `omne serve` server (`RemoteMemoryStore`). The key is a secret: never in a config; the
    process that opens the store takes it from `OMNE_SERVER__KEY`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["server"] = "server"
    url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(default=60.0, gt=0)
    retries: int = Field(default=4, ge=0)

    def without_secrets(self) -> ServerStoreConfig:
        return self  # it holds none


# Either kind of store, told apart by `kind` in a dumped config.
AnyStoreConfig = Annotated[StoreConfig | ServerStoreConfig, Field(discriminator="kind")]
