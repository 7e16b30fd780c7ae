"""Model settings: which provider and model serve each role (main, logic expert, vision)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr

from .section import SettingsSection


class ModelProvider(StrEnum):
    """Where a chat model runs."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"  # vLLM, Ollama, llama.cpp server, LM Studio, ...
    AZURE = "azure"
    LLAMACPP = "llamacpp"  # embedded GGUF through llama-cpp-python


class ModelCapabilities(SettingsSection):
    """What a model can do; AutoGen's `ModelInfo` for models it does not know."""

    vision: bool = False
    function_calling: bool = True
    json_output: bool = True
    structured_output: bool = False
    family: str = "unknown"


class ModelRoleSettings(SettingsSection):
    """One role's model: provider, name, endpoint and limits. API keys are secrets (never printed)."""

    provider: ModelProvider = ModelProvider.LLAMACPP
    model: str = "gemma-3-270m-q4_k_m"  # the bundled GGUF (a base model, not instruction-tuned)
    base_url: str | None = None
    api_key: SecretStr | None = None
    # Azure OpenAI
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    api_version: str | None = None
    # Embedded llama.cpp: a GGUF path; None means the bundled Gemma 3 270M.
    gguf_path: Path | None = None
    n_ctx: int = 8192  # context window: llama.cpp n_ctx; for remote models AutoGen does not know, the token limit
    n_threads: int | None = None
    # Generation and transport limits.
    temperature: float | None = None
    max_tokens: int | None = None
    timeout_s: float = 120.0
    max_retries: int = 2
    capabilities: ModelCapabilities | None = None


def _default_logic_expert() -> ModelRoleSettings:
    return ModelRoleSettings()


class ModelsSettings(SettingsSection):
    """The model of each role. `vision` is optional: without it images get metadata only."""

    main: ModelRoleSettings = Field(default_factory=ModelRoleSettings)
    logic_expert: ModelRoleSettings = Field(default_factory=_default_logic_expert)
    vision: ModelRoleSettings | None = None


class ModelPrice(SettingsSection):
    """US dollars per million tokens."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0


def default_price_table() -> dict[str, ModelPrice]:
    """List prices (USD per 1M tokens) of common hosted models; override in settings."""
    table = {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o3": (2.00, 8.00),
        "o3-mini": (1.10, 4.40),
        "o4-mini": (1.10, 4.40),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
    }
    return {name: ModelPrice(input_per_mtok=i, output_per_mtok=o) for name, (i, o) in table.items()}
