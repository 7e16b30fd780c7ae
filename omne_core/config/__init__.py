"""Typed settings for every layer of Omne."""

from .documents import DocumentSettings
from .memory import (
    ChromaMode,
    ChromaSettings,
    EmbeddingBackend,
    EmbeddingSettings,
    FusionWeights,
    MemorySettings,
    StoreBackend,
    StoreSettings,
)
from .models import ModelCapabilities, ModelPrice, ModelProvider, ModelRoleSettings, ModelsSettings
from .server import ServerSettings
from .settings import REDACTED, OmneSettings, config_file_path, load_settings
from .web import SearchBackendName, WebSettings

__all__ = [
    "REDACTED",
    "ChromaMode",
    "ChromaSettings",
    "DocumentSettings",
    "EmbeddingBackend",
    "EmbeddingSettings",
    "FusionWeights",
    "MemorySettings",
    "ModelCapabilities",
    "ModelPrice",
    "ModelProvider",
    "ModelRoleSettings",
    "ModelsSettings",
    "OmneSettings",
    "SearchBackendName",
    "StoreBackend",
    "StoreSettings",
    "ServerSettings",
    "WebSettings",
    "config_file_path",
    "load_settings",
]
