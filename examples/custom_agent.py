"""A new AutoGen agent that uses `OmneMemory`, inside a team: shared team memory + private memories.

Two `MemoryKeeper` agents (a custom `BaseChatAgent`, no LLM needed) work in one `RoundRobinGroupChat`.
Each reads the team's shared namespace and its own private scope, and writes where it is told:

    "remember: ..."      -> the team namespace (every agent of the team sees it)
    "note to self: ..."  -> the agent's private memory (no other agent sees it)
    anything else        -> a question: the agent answers with what its memories say

Run:  python examples/custom_agent.py   (offline; data in $OMNE_DATA_DIR or ./.omne-examples)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.messages import BaseChatMessage, MemoryQueryEvent, TextMessage
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import CancellationToken
from autogen_core.memory import MemoryContent, MemoryMimeType

from omne_assistant import TeamMemory
from omne_core.config import load_settings
from omne_core.memory import MemoryStore, OmneMemory


class MemoryKeeper(BaseChatAgent):
    """Keeps team facts and private notes in Omne memory and answers questions from them."""

    def __init__(self, name: str, shared: OmneMemory, private: OmneMemory, reader: OmneMemory) -> None:
        super().__init__(name, description="Remembers team facts and private notes; answers from memory.")
        self._shared, self._private, self._reader = shared, private, reader

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken) -> Response:
        text = messages[-1].to_model_text().strip() if messages else ""
        lowered = text.lower()
        for prefix, memory, where in (("remember:", self._shared, "team"), ("note to self:", self._private, "private")):
            if lowered.startswith(prefix):
                fact = text[len(prefix) :].strip()
                await memory.add(MemoryContent(content=fact, mime_type=MemoryMimeType.TEXT, metadata={"speaker": self.name}))
                return Response(chat_message=TextMessage(content=f"saved to {where} memory: {fact}", source=self.name))
        found = await self._reader.query(text, cancellation_token=cancellation_token)
        event = MemoryQueryEvent(content=found.results, source=self.name)
        lines = [str(item.content) for item in found.results[:2]]
        answer = "I remember: " + " | ".join(lines) if lines else "I remember nothing about that."
        return Response(chat_message=TextMessage(content=answer, source=self.name), inner_messages=[event])

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Nothing short-term to reset: everything lives in long-term memory."""


def keeper(name: str, team: TeamMemory, store: MemoryStore) -> MemoryKeeper:
    """An agent wired to its team's namespace and its own private scope (see `TeamMemory`)."""
    shared, private = team.shared, team.private(name)
    common = {"store": store, "k": 3}
    return MemoryKeeper(
        name,
        shared=OmneMemory(user_id=team.user_id, namespace=shared.namespace, **common),
        private=OmneMemory(user_id=team.user_id, agent_id=name, namespace=private.namespace, **common),
        reader=OmneMemory(user_id=team.user_id, read_scopes=[shared, private], **common),
    )


async def main() -> None:
    os.environ.setdefault("OMNE_DATA_DIR", ".omne-examples")
    store = await MemoryStore.open(load_settings())
    team = TeamMemory(user_id="acme", team="launch")
    planner, critic = keeper("planner", team, store), keeper("critic", team, store)
    script = [
        (planner, "remember: the launch date is May 3"),  # saved to the team namespace
        (critic, "note to self: the budget is tight"),  # kept private by the critic
        (critic, "What do we know about the launch date?"),  # the critic reads the team's memory
        (critic, "What do we know about the budget?"),  # ... and its own private note
        (planner, "What do we know about the budget?"),  # the planner cannot see the critic's note
    ]
    try:
        for speaker, task in script:
            # One round of the team; the agent listed first takes the turn.
            others = [a for a in (planner, critic) if a is not speaker]
            team_chat = RoundRobinGroupChat([speaker, *others], termination_condition=MaxMessageTermination(2))
            reply = (await team_chat.run(task=task)).messages[-1]
            print(f"{task!r:45} -> {reply.source}: {reply.to_model_text()}")
        print("team namespace: ", [r.text for r in await store.list(team.shared)])
        print("critic private: ", [r.text for r in await store.list(team.private("critic"))])
        print("planner private:", [r.text for r in await store.list(team.private("planner"))])
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
