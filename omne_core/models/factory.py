"""Build AutoGen `ChatCompletionClient`s from settings, each wrapped so its calls land in a `UsageLedger`."""

from __future__ import annotations

import re
from typing import Any, Literal

from autogen_core.models import ChatCompletionClient, ModelFamily, ModelInfo

from omne_core.config import ModelCapabilities, ModelPrice, ModelProvider, ModelRoleSettings, OmneSettings

from .errors import ModelConfigurationError, ModelUnavailableError
from .gguf import resolve_gguf_path
from .recording import UsageRecordingChatCompletionClient
from .usage import UsageLedger

ModelRole = Literal["main", "logic_expert", "vision"]
PLACEHOLDER_API_KEY = "not-needed"  # OpenAI-compatible servers without auth still need a non-empty key
STREAM_USAGE_ARGS = {"stream_options": {"include_usage": True}}


def model_info_from_capabilities(capabilities: ModelCapabilities) -> ModelInfo:
    """AutoGen's `ModelInfo` for a model described by our `ModelCapabilities`."""
    return ModelInfo(
        vision=capabilities.vision,
        function_calling=capabilities.function_calling,
        json_output=capabilities.json_output,
        structured_output=capabilities.structured_output,
        family=capabilities.family or ModelFamily.UNKNOWN,
    )


def known_openai_model_info(model: str) -> ModelInfo | None:
    """AutoGen's built-in `ModelInfo` for an OpenAI model name, or None if AutoGen does not know it."""
    from autogen_ext.models.openai import _model_info  # noqa: PLC0415

    try:
        return _model_info.get_info(model)
    except (KeyError, ValueError):
        return None


def known_context_window(model: str) -> int | None:
    from autogen_ext.models.openai import _model_info  # noqa: PLC0415

    try:
        return _model_info.get_token_limit(model)
    except KeyError:
        return None


def _model_info_for(role: ModelRoleSettings) -> ModelInfo:
    if role.capabilities is not None:
        return model_info_from_capabilities(role.capabilities)
    if role.provider is ModelProvider.LLAMACPP:  # llama.cpp enforces JSON schemas with a grammar
        return model_info_from_capabilities(ModelCapabilities(structured_output=True))
    known = known_openai_model_info(role.model)
    if known is not None:
        return known
    # An unknown model behind an OpenAI-compatible server: vLLM, Ollama, llama.cpp's server and LM Studio take
    # JSON schemas; a server that refuses one is asked in JSON mode instead (`create_structured`).
    return model_info_from_capabilities(ModelCapabilities(structured_output=True))


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def resolve_api_key(role: ModelRoleSettings, settings: OmneSettings, *, role_name: str = "main") -> str:
    """The API key for a role: its own `api_key`, else the provider-wide key; missing → error naming the variables."""
    own = _secret(role.api_key)
    if own:
        return own
    role_var = f"OMNE_MODELS__{role_name.upper()}__API_KEY"
    if role.provider is ModelProvider.OPENAI:
        key = _secret(settings.openai_api_key)
        if not key:
            raise ModelConfigurationError(
                f"No OpenAI API key for the '{role_name}' model ({role.model}): set OPENAI_API_KEY "
                f"(or OMNE_OPENAI_API_KEY, or {role_var})."
            )
        return key
    if role.provider is ModelProvider.AZURE:
        key = _secret(settings.azure_openai_api_key)
        if not key:
            raise ModelConfigurationError(
                f"No Azure OpenAI API key for the '{role_name}' model ({role.model}): set AZURE_OPENAI_API_KEY "
                f"(or OMNE_AZURE_OPENAI_API_KEY, or {role_var})."
            )
        return key
    # openai_compatible: never send the OpenAI key to a third-party server; local servers need no key.
    return PLACEHOLDER_API_KEY


_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)", re.IGNORECASE)


def output_limit_arg(role: ModelRoleSettings) -> str:
    """The request field that caps a reply: OpenAI's reasoning models (o1/o3/o4, gpt-5) reject `max_tokens`
    and take `max_completion_tokens` (OpenAI and Azure); every other server takes `max_tokens`."""
    if role.provider in (ModelProvider.OPENAI, ModelProvider.AZURE) and _REASONING_MODEL.match(role.model):
        return "max_completion_tokens"
    return "max_tokens"


def _openai_kwargs(role: ModelRoleSettings, model_info: ModelInfo) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": role.model,
        "model_info": model_info,
        "timeout": role.timeout_s,
        "max_retries": role.max_retries,
    }
    if role.temperature is not None:
        kwargs["temperature"] = role.temperature
    if role.max_tokens is not None:
        kwargs[output_limit_arg(role)] = role.max_tokens
    return kwargs


def build_inner_client(
    role: ModelRoleSettings, settings: OmneSettings, *, role_name: str = "main"
) -> ChatCompletionClient:
    """The provider's own AutoGen client for `role`, without usage recording."""
    model_info = _model_info_for(role)
    if role.provider is ModelProvider.OPENAI:
        from autogen_ext.models.openai import OpenAIChatCompletionClient  # noqa: PLC0415

        kwargs = _openai_kwargs(role, model_info)
        kwargs["api_key"] = resolve_api_key(role, settings, role_name=role_name)
        if role.base_url:
            kwargs["base_url"] = role.base_url
        return OpenAIChatCompletionClient(**kwargs)
    if role.provider is ModelProvider.OPENAI_COMPATIBLE:
        from autogen_ext.models.openai import OpenAIChatCompletionClient  # noqa: PLC0415

        if not role.base_url:
            raise ModelConfigurationError(
                f"The '{role_name}' model uses provider openai_compatible but has no base_url: set "
                f"OMNE_MODELS__{role_name.upper()}__BASE_URL (e.g. http://127.0.0.1:11434/v1 for Ollama)."
            )
        kwargs = _openai_kwargs(role, model_info)
        kwargs["api_key"] = resolve_api_key(role, settings, role_name=role_name)
        kwargs["base_url"] = role.base_url
        return OpenAIChatCompletionClient(**kwargs)
    if role.provider is ModelProvider.AZURE:
        from autogen_ext.models.openai import AzureOpenAIChatCompletionClient  # noqa: PLC0415

        missing = [name for name in ("azure_endpoint", "api_version") if not getattr(role, name)]
        if missing:
            names = ", ".join(f"OMNE_MODELS__{role_name.upper()}__{name.upper()}" for name in missing)
            raise ModelConfigurationError(f"The '{role_name}' Azure model needs {', '.join(missing)}: set {names}.")
        kwargs = _openai_kwargs(role, model_info)
        kwargs.update(
            api_key=resolve_api_key(role, settings, role_name=role_name),
            azure_endpoint=role.azure_endpoint,
            azure_deployment=role.azure_deployment or role.model,
            api_version=role.api_version,
        )
        return AzureOpenAIChatCompletionClient(**kwargs)
    if role.provider is ModelProvider.LLAMACPP:
        try:
            from .llamacpp import LlamaCppChatClient  # noqa: PLC0415
        except ImportError as exc:
            raise ModelUnavailableError(
                f"The '{role_name}' model runs on llama.cpp, which is not installed: pip install 'omne[local]' ({exc})"
            ) from exc
        defaults: dict[str, Any] = {}
        if role.max_tokens is not None:
            defaults["max_tokens"] = role.max_tokens
        if role.temperature is not None:
            defaults["temperature"] = role.temperature
        return LlamaCppChatClient(
            resolve_gguf_path(role),
            model_info=model_info,
            n_ctx=role.n_ctx,
            n_threads=role.n_threads,
            default_create_args=defaults,
        )
    raise ModelConfigurationError(f"Unknown model provider: {role.provider!r}")


def create_chat_client(
    role: ModelRoleSettings,
    *,
    settings: OmneSettings,
    usage: UsageLedger | None = None,
    role_name: str = "main",
) -> UsageRecordingChatCompletionClient:
    """An AutoGen `ChatCompletionClient` for `role`, recording every call in `usage` (a new ledger if None).

    `settings` come from the caller (read once at an entry point): the provider keys and prices are taken from
    them, never from the environment here. OpenAI-protocol clients count tokens offline and get `role.n_ctx` as
    context window when AutoGen does not know the model; llama.cpp clients count with the model's own tokenizer.
    """
    ledger = usage if usage is not None else UsageLedger.from_settings(settings)
    inner = build_inner_client(role, settings, role_name=role_name)
    if role.provider is ModelProvider.LLAMACPP:
        if ledger.price_for(role.model) is None:
            ledger.set_price(role.model, ModelPrice())  # an embedded model costs nothing per token
        return UsageRecordingChatCompletionClient(
            inner, ledger, model=role.model, role=role_name, provider=role.provider.value
        )
    return UsageRecordingChatCompletionClient(
        inner,
        ledger,
        model=role.model,
        role=role_name,
        provider=role.provider.value,
        offline_token_count=True,
        context_window=known_context_window(role.model) or role.n_ctx,
        stream_create_args=STREAM_USAGE_ARGS,
    )


def role_settings(settings: OmneSettings, role_name: ModelRole | str) -> ModelRoleSettings:
    """The `ModelRoleSettings` of a role; `vision` falls back to an error when not configured."""
    if role_name not in ("main", "logic_expert", "vision"):
        raise ModelConfigurationError(f"Unknown model role {role_name!r}: use main, logic_expert or vision.")
    role: ModelRoleSettings | None = getattr(settings.models, role_name)
    if role is None:
        raise ModelConfigurationError(
            f"No '{role_name}' model configured: set OMNE_MODELS__{role_name.upper()}__PROVIDER and __MODEL "
            "(or [models.vision] in omne.toml)."
        )
    return role


def create_role_client(
    settings: OmneSettings, role_name: ModelRole | str, *, usage: UsageLedger | None = None
) -> UsageRecordingChatCompletionClient:
    """The client of one configured role (`main`, `logic_expert` or `vision`)."""
    return create_chat_client(role_settings(settings, role_name), settings=settings, usage=usage, role_name=role_name)
