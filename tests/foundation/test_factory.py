"""The model factory builds every provider from settings, with clear errors for what is missing."""

from __future__ import annotations

import json

import pytest
from autogen_core.models import SystemMessage, UserMessage
from autogen_ext.models.openai import AzureOpenAIChatCompletionClient, OpenAIChatCompletionClient

from omne_core.config import ModelCapabilities, ModelProvider, ModelRoleSettings, OmneSettings
from omne_core.models import (
    ModelConfigurationError,
    UsageLedger,
    UsageRecordingChatCompletionClient,
    create_chat_client,
    create_role_client,
)
from omne_core.models.factory import PLACEHOLDER_API_KEY
from tests.support.local_model import requires_local
from tests.support.servers import json_server


def test_openai_from_env(monkeypatch):
    monkeypatch.setenv("OMNE_MODELS__MAIN__PROVIDER", "openai")
    monkeypatch.setenv("OMNE_MODELS__MAIN__MODEL", "gpt-4o")
    monkeypatch.setenv("OMNE_MODELS__MAIN__TEMPERATURE", "0.1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-openai")
    settings = OmneSettings()
    ledger = UsageLedger.from_settings(settings)
    client = create_role_client(settings, "main", usage=ledger)
    assert isinstance(client, UsageRecordingChatCompletionClient)
    assert client.ledger is ledger and client.model == "gpt-4o"
    inner = client.inner
    assert isinstance(inner, OpenAIChatCompletionClient)
    assert inner._client.api_key == "sk-test-openai"
    assert str(inner._client.base_url).startswith("https://api.openai.com")
    assert inner._create_args["temperature"] == 0.1
    assert client.model_info["vision"] is True  # AutoGen's own info for gpt-4o
    assert client.remaining_tokens([UserMessage(content="hi", source="u")]) > 100_000


@pytest.mark.filterwarnings("ignore:Resolved model mismatch")  # the stand-in server echoes the undated name
@pytest.mark.parametrize(
    ("provider", "model", "sent", "not_sent"),
    [
        ("openai", "o3-mini", "max_completion_tokens", "max_tokens"),
        ("openai", "gpt-5-mini", "max_completion_tokens", "max_tokens"),
        ("openai", "gpt-4o", "max_tokens", "max_completion_tokens"),
        ("openai_compatible", "o3-mini", "max_tokens", "max_completion_tokens"),  # a local server named so
    ],
)
async def test_role_max_tokens_goes_out_in_the_field_the_model_accepts(monkeypatch, provider, model, sent, not_sent):
    def route(method: str, path: str, body: bytes) -> tuple[int, dict]:
        if not_sent in json.loads(body):  # what OpenAI answers a reasoning model sent max_tokens
            return 400, {"error": {"message": f"Unsupported parameter: '{not_sent}'", "type": "invalid_request_error"}}
        return 200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
        }

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with json_server(route) as (url, seen):
        role = ModelRoleSettings(provider=ModelProvider(provider), model=model, base_url=f"{url}/v1", max_tokens=77)
        client = create_chat_client(role, settings=OmneSettings())
        result = await client.create([UserMessage(content="hi", source="user")])
    assert result.content == "OK"
    assert json.loads(seen[-1][2])[sent] == 77


def test_openai_role_key_beats_provider_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-provider")
    role = ModelRoleSettings(provider=ModelProvider.OPENAI, model="gpt-4o-mini", api_key="sk-role")
    client = create_chat_client(role, settings=OmneSettings())
    assert client.inner._client.api_key == "sk-role"


def test_the_key_comes_from_the_settings_given_never_from_the_environment(monkeypatch):
    """Settings flow down (issue 15.4): the factory reads no environment of its own and has no fallback."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    role = ModelRoleSettings(provider=ModelProvider.OPENAI, model="gpt-4o-mini")
    given = OmneSettings(openai_api_key="sk-from-the-caller")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-changed-after-the-entry-point-read-it")
    assert create_chat_client(role, settings=given).inner._client.api_key == "sk-from-the-caller"
    with pytest.raises(TypeError, match="settings"):
        create_chat_client(role)  # type: ignore[call-arg]  # no silent load of the environment's settings


def test_openai_without_key_names_the_variable():
    role = ModelRoleSettings(provider=ModelProvider.OPENAI, model="gpt-4o")
    with pytest.raises(ModelConfigurationError, match="OPENAI_API_KEY") as info:
        create_chat_client(role, settings=OmneSettings(), role_name="logic_expert")
    assert "OMNE_MODELS__LOGIC_EXPERT__API_KEY" in str(info.value)


def test_openai_compatible_with_model_info_from_capabilities(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak-to-third-parties")
    role = ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE,
        model="qwen2.5:7b-instruct",
        base_url="http://127.0.0.1:11434/v1",
        n_ctx=32768,
        capabilities=ModelCapabilities(vision=True, function_calling=False, json_output=False, family="qwen"),
    )
    client = create_chat_client(role, settings=OmneSettings(), role_name="main")
    inner = client.inner
    assert isinstance(inner, OpenAIChatCompletionClient)
    assert str(inner._client.base_url) == "http://127.0.0.1:11434/v1/"
    assert inner._client.api_key == PLACEHOLDER_API_KEY
    assert client.model_info == {
        "vision": True,
        "function_calling": False,
        "json_output": False,
        "structured_output": False,
        "family": "qwen",
    }
    messages = [SystemMessage(content="Be brief."), UserMessage(content="Hello there", source="user")]
    used = client.count_tokens(messages)
    assert 10 <= used <= 30  # counted offline, OpenAI accounting
    assert client.remaining_tokens(messages) == 32768 - used


def test_openai_compatible_unknown_model_gets_default_capabilities():
    role = ModelRoleSettings(provider=ModelProvider.OPENAI_COMPATIBLE, model="my-vllm-model", base_url="http://h:8000/v1")
    client = create_chat_client(role, settings=OmneSettings())
    assert client.model_info["function_calling"] is True and client.model_info["family"] == "unknown"
    assert client.model_info["structured_output"] is True  # asked for JSON schemas; refused → JSON mode


def test_openai_compatible_needs_base_url():
    role = ModelRoleSettings(provider=ModelProvider.OPENAI_COMPATIBLE, model="llama3")
    with pytest.raises(ModelConfigurationError, match="OMNE_MODELS__MAIN__BASE_URL"):
        create_chat_client(role, settings=OmneSettings())


def test_azure(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__PROVIDER", "azure")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__MODEL", "gpt-4o")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__AZURE_ENDPOINT", "https://example.openai.azure.com")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__AZURE_DEPLOYMENT", "prod-4o")
    monkeypatch.setenv("OMNE_MODELS__LOGIC_EXPERT__API_VERSION", "2024-06-01")
    client = create_role_client(OmneSettings(), "logic_expert")
    inner = client.inner
    assert isinstance(inner, AzureOpenAIChatCompletionClient)
    assert inner._client.api_key == "az-key"
    assert "example.openai.azure.com/openai/deployments/prod-4o" in str(inner._client.base_url)
    assert inner._client._api_version == "2024-06-01"


def test_azure_needs_endpoint_and_version(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    role = ModelRoleSettings(provider=ModelProvider.AZURE, model="gpt-4o")
    with pytest.raises(ModelConfigurationError, match="azure_endpoint, api_version"):
        create_chat_client(role, settings=OmneSettings())


def test_unconfigured_vision_role_is_a_clear_error():
    with pytest.raises(ModelConfigurationError, match="No 'vision' model configured"):
        create_role_client(OmneSettings(), "vision")
    with pytest.raises(ModelConfigurationError, match="Unknown model role"):
        create_role_client(OmneSettings(), "planner")


def test_llamacpp_missing_gguf_path(tmp_path):
    role = ModelRoleSettings(provider=ModelProvider.LLAMACPP, gguf_path=tmp_path / "nope.gguf")
    with pytest.raises(ModelConfigurationError, match="nope.gguf"):
        create_chat_client(role, settings=OmneSettings())


@requires_local
async def test_llamacpp_on_the_bundled_gguf(bundled_gguf, shared_data_dir, monkeypatch):
    from omne_core.models import LlamaCppChatClient

    monkeypatch.setenv("OMNE_DATA_DIR", str(shared_data_dir))  # the default role: the bundled GGUF, from the cache
    monkeypatch.setenv("OMNE_MODELS__MAIN__N_CTX", "1024")
    monkeypatch.setenv("OMNE_MODELS__MAIN__MAX_TOKENS", "4")
    settings = OmneSettings()
    ledger = UsageLedger.from_settings(settings)
    client = create_role_client(settings, "main", usage=ledger)
    try:
        inner = client.inner
        assert isinstance(inner, LlamaCppChatClient)
        assert inner.model_path == bundled_gguf
        assert inner.chat_format == "gemma"  # the GGUF has no template: not llama-2
        assert client.model_info["structured_output"] is True
        messages = [SystemMessage(content="Be brief."), UserMessage(content="Name a colour.", source="user")]
        assert client.remaining_tokens(messages) == 1024 - client.count_tokens(messages)
        result = await client.create(messages)
        assert isinstance(result.content, str)
        assert result.usage.prompt_tokens > 5 and 1 <= result.usage.completion_tokens <= 4
        (record,) = ledger.records()
        assert record.model == settings.models.main.model and record.provider == "llamacpp"
        assert record.prompt_tokens == result.usage.prompt_tokens and record.cost_usd == 0.0
    finally:
        await client.close()


def test_clients_round_trip_as_autogen_components():
    from autogen_agentchat.agents import AssistantAgent
    from autogen_core.models import ChatCompletionClient

    role = ModelRoleSettings(
        provider=ModelProvider.OPENAI_COMPATIBLE,
        model="qwen2.5:7b",
        base_url="http://127.0.0.1:11434/v1",
        n_ctx=4096,
        capabilities=ModelCapabilities(family="qwen"),
    )
    client = create_chat_client(role, settings=OmneSettings(), role_name="logic_expert")
    loaded = ChatCompletionClient.load_component(client.dump_component())
    assert isinstance(loaded, UsageRecordingChatCompletionClient)
    assert (loaded.model, loaded.model_info) == (client.model, client.model_info)
    assert str(loaded.inner._client.base_url) == "http://127.0.0.1:11434/v1/"
    messages = [UserMessage(content="How many tokens is this?", source="user")]
    assert loaded.count_tokens(messages) == client.count_tokens(messages)
    assert loaded.remaining_tokens(messages) == 4096 - client.count_tokens(messages)
    assert loaded.ledger is not client.ledger and loaded.ledger.prices == client.ledger.prices
    agent = AssistantAgent("helper", model_client=client)
    config = agent.dump_component()
    assert config.config["model_client"]["provider"] == "omne_core.models.UsageRecordingChatCompletionClient"
