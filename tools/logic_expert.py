"""Logic expert: hands a self-contained reasoning problem to a separate (reasoning) model, within a budget."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from autogen_core import CancellationToken
from autogen_core.models import ChatCompletionClient, LLMMessage, SystemMessage, UserMessage

from omne_core.tokens import count_tokens, truncate_to_tokens

from .errors import LogicExpertError

LOGIC_EXPERT_SYSTEM_PROMPT = (
    "You are a meticulous expert in logic, mathematics and puzzles. You receive one self-contained "
    "problem. Reason carefully and check your work. Reply with your reasoning in brief, then a last "
    "line of the form 'FINAL ANSWER: <answer>'."
)


class LogicExpert:
    """Asks the `logic_expert` model one problem; the answer is bounded in tokens and time."""

    def __init__(
        self,
        client: ChatCompletionClient,
        *,
        max_problem_tokens: int = 8000,
        max_answer_tokens: int = 4000,
        timeout_s: float = 300.0,
        output_limit_arg: str | None = "max_tokens",
        system_prompt: str = LOGIC_EXPERT_SYSTEM_PROMPT,
    ) -> None:
        self.client = client
        self.max_problem_tokens = max_problem_tokens
        self.max_answer_tokens = max_answer_tokens
        self.timeout_s = timeout_s
        self.output_limit_arg = output_limit_arg
        self.system_prompt = system_prompt

    def _create_args(self) -> Mapping[str, Any]:
        return {self.output_limit_arg: self.max_answer_tokens} if self.output_limit_arg else {}

    async def solve(self, problem: str, cancellation_token: CancellationToken | None = None) -> str:
        """The expert's answer; raises `LogicExpertError` saying why there is none (empty, too long, timeout, failure)."""
        problem = problem.strip()
        if not problem:
            raise LogicExpertError("the problem is empty.")
        size = count_tokens(problem)
        if size > self.max_problem_tokens:
            raise LogicExpertError(
                f"the problem is {size} tokens, over the {self.max_problem_tokens}-token "
                "budget. State it more concisely (only the facts needed to solve it)."
            )
        token = cancellation_token or CancellationToken()
        messages: list[LLMMessage] = [SystemMessage(content=self.system_prompt), UserMessage(content=problem, source="agent")]
        try:
            result = await asyncio.wait_for(
                self.client.create(messages, extra_create_args=self._create_args(), cancellation_token=token),
                timeout=self.timeout_s,
            )
        except TimeoutError as exc:
            token.cancel()
            raise LogicExpertError(f"no answer within {self.timeout_s:g} s.") from exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a model or transport failure must not end the agent's run
            raise LogicExpertError(f"the model call failed ({type(exc).__name__}: {exc}).") from exc
        if not isinstance(result.content, str) or not result.content.strip():
            raise LogicExpertError("the model returned no text answer.")
        answer = result.content.strip()
        if count_tokens(answer) > self.max_answer_tokens:
            answer = (
                truncate_to_tokens(answer, self.max_answer_tokens)
                + "\n[answer truncated to the token budget]"
            )
        return answer
