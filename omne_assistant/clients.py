"""The chat model an assistant runs on: from settings, or from an AutoGen component file.

`OMNE_MODEL_COMPONENT=path.json` (or `omne chat --model-component path.json`) loads any AutoGen
`ChatCompletionClient` from its `dump_component()` JSON instead of the configured role. It is a
general escape hatch (any AutoGen client, e.g. Anthropic or Ollama) and it is how the CLI tests
drive `omne chat` with a scripted `ReplayChatCompletionClient`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autogen_core.models import ChatCompletionClient

from omne_core.config import OmneSettings
from omne_core.errors import ConfigurationError


class ModelComponentError(ConfigurationError):
    """The model component file is missing, not JSON, or not a chat completion client."""


def load_component_client(path: Path) -> ChatCompletionClient:
    """A `ChatCompletionClient` from a component JSON file (`{"provider": ..., "config": ...}`)."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelComponentError(f"cannot read model component file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ModelComponentError(f"model component file {path} is not JSON: {exc}") from exc
    try:
        return ChatCompletionClient.load_component(config)
    except Exception as exc:  # noqa: BLE001 - any loading failure is a configuration error
        raise ModelComponentError(f"model component file {path} is not a chat completion client: {exc}") from exc


def assistant_client(settings: OmneSettings, role: str = "main", component: Path | None = None) -> ChatCompletionClient:
    """The component file if given (argument, else `settings.model_component`: $OMNE_MODEL_COMPONENT), else the
    settings' model for `role`."""
    component = component or settings.model_component
    if component is not None:
        return load_component_client(component)
    from omne_core.models import create_role_client

    return create_role_client(settings, role)


def prose_args(settings: OmneSettings, role: str = "main", component: Path | None = None) -> Mapping[str, Any]:
    """What a call whose answer is prose (a session summary) sends the client `assistant_client` gives for the same
    arguments: the bundled model's repeat penalty (`models.gguf.free_text_args`), nothing for a component."""
    if component or settings.model_component:
        return {}
    from omne_core.models import role_settings
    from omne_core.models.gguf import free_text_args

    return free_text_args(role_settings(settings, role))


def helper_clients(
    settings: OmneSettings, main: ChatCompletionClient, component: Path | None = None
) -> tuple[ChatCompletionClient, ChatCompletionClient | None]:
    """The logic expert's and the vision model's clients beside `main`.

    A model component (argument, else `settings.model_component`) plays the logic expert too, with no vision model. The
    logic expert is `main` itself when configured exactly like it, or when it is left on the embedded default
    while `main` is a real model (a 270M local model is no expert). A client other than `main` is the caller's
    to close.
    """
    from omne_core.config import ModelProvider
    from omne_core.models import create_role_client

    if component is not None or settings.model_component is not None:
        return main, None
    models = settings.models
    default_local = models.logic_expert.provider is ModelProvider.LLAMACPP and models.main.provider is not ModelProvider.LLAMACPP
    same = models.logic_expert == models.main
    logic = main if same or default_local else create_role_client(settings, "logic_expert")
    vision = create_role_client(settings, "vision") if models.vision is not None else None
    return logic, vision
