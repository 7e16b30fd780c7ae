"""Model layer: AutoGen model clients built from settings, usage/cost recording, offline token counting.

    settings = load_settings()
    ledger = UsageLedger.from_settings(settings)
    client = create_role_client(settings, "main", usage=ledger)   # a ChatCompletionClient
    ...
    print(ledger.summary())

Every call goes through `create_with_retry` / `stream_with_retry` (transient faults retried, then one typed
`ModelFaultError`); every structured answer through `create_structured` (JSON-schema constrained where the
client can). `extract_json` and `extract_final_answer` read model replies, once for the whole project.
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
from .faults import (
    RETRYABLE,
    ModelFaultError,
    ModelFaultKind,
    RetryPolicy,
    classify,
    create_with_retry,
    stream_with_retry,
)
from .gguf import bundled_gguf_path, model_cache_dir, resolve_gguf_path
from .message_tokens import count_message_tokens
from .output import FINAL_ANSWER_MARKER, extract_final_answer, extract_json
from .recording import UsageRecordingChatCompletionClient
from .structured import OutputMode, create_structured, json_instruction, output_mode, parse_structured
from .usage import ModelUsageTotals, UsageLedger, UsageRecord, UsageSummary, cost_usd, price_for

if TYPE_CHECKING:
    from .llamacpp import LlamaCppChatClient

__all__ = [
    "FINAL_ANSWER_MARKER",
    "RETRYABLE",
    "LlamaCppChatClient",
    "ModelConfigurationError",
    "ModelFaultError",
    "ModelFaultKind",
    "ModelRole",
    "ModelUnavailableError",
    "ModelUsageTotals",
    "OutputMode",
    "RetryPolicy",
    "UsageLedger",
    "UsageRecord",
    "UsageRecordingChatCompletionClient",
    "UsageSummary",
    "build_inner_client",
    "bundled_gguf_path",
    "classify",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "create_chat_client",
    "create_role_client",
    "create_structured",
    "create_with_retry",
    "encoding_for",
    "extract_final_answer",
    "extract_json",
    "json_instruction",
    "model_cache_dir",
    "model_info_from_capabilities",
    "output_limit_arg",
    "output_mode",
    "parse_structured",
    "price_for",
    "resolve_api_key",
    "resolve_gguf_path",
    "role_settings",
    "stream_with_retry",
    "truncate_to_tokens",
]


def __getattr__(name: str) -> Any:
    if name == "LlamaCppChatClient":
        from .llamacpp import LlamaCppChatClient

        return LlamaCppChatClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
