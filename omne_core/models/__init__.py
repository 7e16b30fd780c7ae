"""Model layer: AutoGen model clients built from settings, usage/cost recording, offline token counting.

    settings = load_settings()
    ledger = UsageLedger.from_settings(settings)
    client = create_role_client(settings, "main", usage=ledger)   # a ChatCompletionClient
    ...
    print(ledger.summary())

`LlamaCppChatClient` (embedded llama.cpp) is imported lazily: importing this package never loads llama_cpp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..tokens import count_tokens, encoding_for, truncate_to_tokens
from .errors import ModelConfigurationError, ModelUnavailableError
from .factory import (
    ModelRole,
    build_inner_client,
    create_chat_client,
    create_role_client,
    model_info_from_capabilities,
    output_limit_arg,
    resolve_api_key,
    role_settings,
)
from .gguf import bundled_gguf_path, resolve_gguf_path
from .message_tokens import count_message_tokens
from .recording import UsageRecordingChatCompletionClient
from .usage import ModelUsageTotals, UsageLedger, UsageRecord, UsageSummary, cost_usd, price_for

if TYPE_CHECKING:
    from .llamacpp import LlamaCppChatClient

__all__ = [
    "LlamaCppChatClient",
    "ModelConfigurationError",
    "ModelRole",
    "ModelUnavailableError",
    "ModelUsageTotals",
    "UsageLedger",
    "UsageRecord",
    "UsageRecordingChatCompletionClient",
    "UsageSummary",
    "build_inner_client",
    "bundled_gguf_path",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "create_chat_client",
    "create_role_client",
    "encoding_for",
    "model_info_from_capabilities",
    "output_limit_arg",
    "price_for",
    "resolve_api_key",
    "resolve_gguf_path",
    "role_settings",
    "truncate_to_tokens",
]


def __getattr__(name: str) -> Any:
    if name == "LlamaCppChatClient":
        from .llamacpp import LlamaCppChatClient

        return LlamaCppChatClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
