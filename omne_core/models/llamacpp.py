"""`LlamaCppChatClient`: an embedded llama.cpp model as an AutoGen `ChatCompletionClient`.

It extends AutoGen's `LlamaCppChatCompletionClient`, which (in 0.7.5) rejects tool-call and tool-result
messages, cannot stream, lets two concurrent calls share one non-thread-safe `Llama`, cannot stop a running
generation, and uses the llama-2 prompt format for GGUFs without a chat template (the bundled Gemma has none).
This client renders every AutoGen message as text in a strictly alternating conversation, streams, serialises
calls with a lock, stops generating when its `CancellationToken` is cancelled, and picks the Gemma format.
Generation runs in a worker thread that checks a stop flag after every token and is never killed mid-call: a
cancelled call waits for its worker, and `close()` (also run at interpreter exit) frees the model only once
no thread is inside llama.cpp — freeing it under a running generation is what made Ctrl-C segfault.
Importing this module imports `llama_cpp`: the model factory imports it only for `llamacpp` roles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

from autogen_core import EVENT_LOGGER_NAME, CancellationToken, Component, FunctionCall, MessageHandlerContext
from autogen_core.logging import LLMCallEvent
from autogen_core.models import (
    AssistantMessage,
    CreateResult,
    LLMMessage,
    ModelInfo,
    RequestUsage,
    SystemMessage,
)
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.llama_cpp import LlamaCppChatCompletionClient
from autogen_ext.models.llama_cpp._llama_cpp_completion_client import (
    convert_tools,
    normalize_name,
    normalize_stop_reason,
)
from pydantic import BaseModel, Field

from . import llamacpp_log
from .message_text import message_images, message_text

logger = logging.getLogger(EVENT_LOGGER_NAME)
llamacpp_log.install()  # llama.cpp's warnings go to the `llama_cpp` logger, not the terminal

DEFAULT_MAX_TOKENS = 512
TOKENS_PER_TURN = 4  # role markers around each turn (e.g. <start_of_turn>user\n ... <end_of_turn>\n)
_GEMMA_ARCHITECTURES = {"gemma", "gemma2", "gemma3", "gemma3n"}
_SYSTEM_FOLDING_FORMATS = {"gemma"}  # formats that drop `system` turns: fold them into the first user turn


class LlamaCppChatClientConfig(BaseModel):
    """Component config of `LlamaCppChatClient`."""

    model_path: str
    model_info: ModelInfo | None = None
    n_ctx: int = 8192
    n_threads: int | None = None
    chat_format: str | None = None
    default_create_args: dict[str, Any] = Field(default_factory=dict)


class LlamaCppChatClient(LlamaCppChatCompletionClient, Component[LlamaCppChatClientConfig]):
    """Chat with a local GGUF through llama-cpp-python; `create` and `create_stream` share one code path.

    `default_create_args` (e.g. `max_tokens`, `temperature`) apply to every call; `extra_create_args`
    override them per call. `max_tokens` defaults to 512: base models rarely stop on their own.
    """

    component_type = "model"
    component_provider_override = "omne_core.models.LlamaCppChatClient"
    component_config_schema = LlamaCppChatClientConfig

    def __init__(
        self,
        model_path: str | Path,
        *,
        model_info: ModelInfo | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        chat_format: str | None = None,
        default_create_args: Mapping[str, Any] | None = None,
        **llama_kwargs: Any,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        params: dict[str, Any] = {
            "model_path": str(path),
            "n_ctx": n_ctx,
            "n_threads": n_threads or max((os.cpu_count() or 2) // 2, 1),  # llama.cpp: physical cores, not SMT
            "verbose": False,
            **llama_kwargs,
        }
        if chat_format:
            params["chat_format"] = chat_format
        super().__init__(model_info=model_info, **params)
        if not chat_format and _needs_gemma_format(self.llm.metadata, self.llm.chat_format):
            self.llm.chat_format = "gemma"
        self._model_path = path
        self._config = LlamaCppChatClientConfig(
            model_path=str(path),
            model_info=model_info,
            n_ctx=n_ctx,
            n_threads=n_threads,
            chat_format=chat_format,
            default_create_args=dict(default_create_args or {}),
        )
        self._default_create_args = {"max_tokens": DEFAULT_MAX_TOKENS, **dict(default_create_args or {})}
        self._lock = threading.Lock()  # one Llama context: calls must not overlap, nor a free with a call
        self._running: set[threading.Event] = set()  # the stop flags of the generations in flight
        # Frees the model once: on close(), when the client is garbage-collected, or at interpreter exit (before
        # modules are torn down, so llama.cpp's own __del__ never runs on a half-finalized interpreter).
        self._free = weakref.finalize(self, _free_llama, self.llm, self._lock)

    def _to_config(self) -> LlamaCppChatClientConfig:
        return self._config.model_copy(deep=True)

    @classmethod
    def _from_config(cls, config: LlamaCppChatClientConfig) -> Self:
        return cls(
            config.model_path,
            model_info=config.model_info,
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            chat_format=config.chat_format,
            default_create_args=config.default_create_args,
        )

    async def close(self) -> None:
        """Stop the generations in flight, wait for their threads, then free the model. Idempotent."""
        for stop in list(self._running):
            stop.set()
        if self._free.alive:
            await asyncio.to_thread(self._free)

    @property
    def closed(self) -> bool:
        return not self._free.alive

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError(f"the llama.cpp client for {self._model_path.name} is closed")

    @property
    def model_path(self) -> Path:
        return self._model_path

    @property
    def chat_format(self) -> str | None:
        return self.llm.chat_format

    @property
    def context_window(self) -> int:
        self._check_open()
        return self.llm.n_ctx()

    # -- messages ------------------------------------------------------------------------------------
    def to_llama_messages(self, messages: Sequence[LLMMessage]) -> list[dict[str, str]]:
        """AutoGen messages as text turns: system first (or folded into the first user turn), then strictly
        alternating user/assistant; tool calls and results become readable text."""
        system_parts: list[str] = []
        turns: list[dict[str, str]] = []
        for message in messages:
            if message_images(message) and not self.model_info["vision"]:
                raise ValueError(f"{self._model_path.name} cannot read images (model_info['vision'] is False).")
            text = message_text(message)
            if isinstance(message, SystemMessage):
                system_parts.append(text)
                continue
            role = "assistant" if isinstance(message, AssistantMessage) else "user"
            if turns and turns[-1]["role"] == role:
                turns[-1]["content"] += "\n\n" + text
            else:
                turns.append({"role": role, "content": text})
        system = "\n\n".join(part for part in system_parts if part)
        if not system:
            return turns
        if self.llm.chat_format in _SYSTEM_FOLDING_FORMATS:
            if turns and turns[0]["role"] == "user":
                turns[0]["content"] = f"{system}\n\n{turns[0]['content']}"
            else:
                turns.insert(0, {"role": "user", "content": system})
            return turns
        return [{"role": "system", "content": system}, *turns]

    def count_tokens(self, messages: Sequence[LLMMessage], **kwargs: Any) -> int:
        """Prompt tokens by the model's own tokenizer (plus a few per turn for the role markers); `tools=` adds
        their schemas."""
        tools: Sequence[Tool | ToolSchema] = kwargs.get("tools") or []
        self._check_open()
        total = 0
        for turn in self.to_llama_messages(messages):
            total += TOKENS_PER_TURN + len(self.llm.tokenize(turn["content"].encode("utf-8"), add_bos=False))
        if tools and self.model_info["function_calling"]:
            schemas = json.dumps([tool["function"] for tool in convert_tools(tools)])
            total += len(self.llm.tokenize(schemas.encode("utf-8"), add_bos=False))
        return total + 1  # BOS

    def remaining_tokens(self, messages: Sequence[LLMMessage], **kwargs: Any) -> int:
        used = self.count_tokens(messages, **kwargs)  # raises first when the client is closed
        return max(self.llm.n_ctx() - used, 0)

    # -- calls ---------------------------------------------------------------------------------------
    def _request(
        self,
        messages: Sequence[LLMMessage],
        tools: Sequence[Tool | ToolSchema],
        tool_choice: Tool | Literal["auto", "required", "none"],
        json_output: bool | type[BaseModel] | None,
        extra_create_args: Mapping[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {**self._default_create_args, **dict(extra_create_args)}
        request["messages"] = self.to_llama_messages(messages)
        if isinstance(json_output, type) and issubclass(json_output, BaseModel):
            request["response_format"] = {"type": "json_object", "schema": json_output.model_json_schema()}
        elif json_output is True:
            request["response_format"] = {"type": "json_object"}
        elif json_output not in (None, False):
            raise ValueError("json_output must be a boolean, a BaseModel subclass or None.")
        if tools and tool_choice != "none":
            if not self.model_info["function_calling"]:
                raise ValueError("Tools were given but model_info['function_calling'] is False.")
            request["tools"] = convert_tools(tools)
            if isinstance(tool_choice, Tool):
                request["tool_choice"] = {"type": "function", "function": {"name": tool_choice.schema["name"]}}
            elif tool_choice == "required" and len(tools) == 1:
                request["tool_choice"] = {"type": "function", "function": {"name": request["tools"][0]["function"]["name"]}}
        return request

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        result: CreateResult | None = None
        async for chunk in self.create_stream(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        ):
            if isinstance(chunk, CreateResult):
                result = chunk
        assert result is not None  # create_stream always ends with a CreateResult
        return result

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = [],
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: CancellationToken | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        self._check_open()
        request = self._request(messages, tools, tool_choice, json_output, extra_create_args)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()
        if cancellation_token is not None:
            cancellation_token.add_callback(stop.set)
        self._running.add(stop)
        worker = loop.run_in_executor(None, self._generate, request, stop, loop, queue)
        text_parts: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish_reason: str | None = None
        try:
            while True:
                kind, payload = await queue.get()
                if kind == "error":
                    raise payload
                if kind == "done":
                    usage: RequestUsage = payload
                    break
                choice = payload["choices"][0] if payload.get("choices") else {}
                delta = choice.get("delta") or {}
                finish_reason = choice.get("finish_reason") or finish_reason
                if delta.get("content"):
                    text_parts.append(delta["content"])
                    yield delta["content"]
                for call in delta.get("tool_calls") or []:
                    slot = calls.setdefault(call.get("index", 0), {"id": "", "name": "", "arguments": ""})
                    slot["id"] = call.get("id") or slot["id"]
                    function = call.get("function") or {}
                    slot["name"] += function.get("name") or ""
                    slot["arguments"] += function.get("arguments") or ""
        finally:
            stop.set()  # also stops generation when the consumer stops reading
            await _join(worker)  # the thread ends after its current token; never leave it running
            self._running.discard(stop)
        if stop.is_set() and cancellation_token is not None and cancellation_token.is_cancelled():
            raise asyncio.CancelledError("model call cancelled")
        result = self._result("".join(text_parts), calls, finish_reason, usage)
        self._total_usage["prompt_tokens"] += usage.prompt_tokens
        self._total_usage["completion_tokens"] += usage.completion_tokens
        self._log_call(request["messages"], result)
        yield result

    def _generate(
        self,
        request: dict[str, Any],
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[tuple[str, Any]],
    ) -> None:
        """Run one streamed completion in a worker thread, passing chunks to `queue`; exact token usage from
        the context length (the prompt is evaluated when the first chunk arrives)."""

        def put(kind: str, payload: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, payload))

        with self._lock:
            try:
                if self.closed:
                    raise RuntimeError(f"the llama.cpp client for {self._model_path.name} was closed")
                prompt_tokens: int | None = None
                finish_reason: str | None = None
                chunks: Any = self.llm.create_chat_completion(**request, stream=True)  # a generator of dict chunks
                try:
                    for chunk in chunks:
                        if prompt_tokens is None:
                            prompt_tokens = self.llm.n_tokens
                        finish_reason = chunk["choices"][0].get("finish_reason") or finish_reason
                        put("chunk", chunk)
                        if stop.is_set():
                            break
                finally:
                    chunks.close()
                prompt_tokens = prompt_tokens or 0
                completion = max(self.llm.n_tokens - prompt_tokens, 0) + (1 if finish_reason == "length" else 0)
                put("done", RequestUsage(prompt_tokens=prompt_tokens, completion_tokens=completion))
            except Exception as exc:  # handed to the event loop, re-raised there
                put("error", exc)

    def _result(
        self, text: str, calls: dict[int, dict[str, str]], finish_reason: str | None, usage: RequestUsage
    ) -> CreateResult:
        if calls:
            function_calls = [
                FunctionCall(id=slot["id"] or f"call_{index}", name=normalize_name(slot["name"]), arguments=slot["arguments"])
                for index, slot in sorted(calls.items())
            ]
            return CreateResult(
                content=function_calls,
                thought=text or None,
                usage=usage,
                finish_reason="function_calls",
                cached=False,
            )
        return CreateResult(content=text, usage=usage, finish_reason=normalize_stop_reason(finish_reason), cached=False)

    def _log_call(self, llama_messages: list[dict[str, str]], result: CreateResult) -> None:
        try:
            agent_id = MessageHandlerContext.agent_id()
        except RuntimeError:
            agent_id = None
        logger.info(
            LLMCallEvent(
                messages=llama_messages,
                response=result.model_dump(),
                prompt_tokens=result.usage.prompt_tokens,
                completion_tokens=result.usage.completion_tokens,
                agent_id=agent_id,
            )
        )


def _free_llama(llm: Any, lock: threading.Lock) -> None:
    """Free a model once no generation holds it."""
    with lock:
        llm.close()


async def _join(worker: asyncio.Future[None]) -> None:
    """Wait for a generation thread to end, even when the waiting task is cancelled again meanwhile (the
    cancellation is re-raised once the thread is done)."""
    cancelled = False
    while not worker.done():
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError("model call cancelled")


def _needs_gemma_format(metadata: Mapping[str, str], chosen: str | None) -> bool:
    """True for a Gemma GGUF without a chat template, where llama.cpp would fall back to the llama-2 format."""
    has_template = any(key.startswith("tokenizer.chat_template") for key in metadata)
    return not has_template and chosen == "llama-2" and metadata.get("general.architecture") in _GEMMA_ARCHITECTURES

