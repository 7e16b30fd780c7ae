"""A memory-backed chat assistant in a few lines: the Simple Responder remembers across sessions.

Session 1 tells it something; session 2 (a new agent, a new session) asks about it. The model is the
configured `main` role (default: the bundled 270M smoke-test model — point `OMNE_MODELS__MAIN__*` at a
real one for real answers); retrieval works the same with any model.

Run:  python examples/chat_with_memory.py [USER]
"""

from __future__ import annotations

import asyncio
import os
import sys

from autogen_agentchat.messages import MemoryQueryEvent
from autogen_agentchat.ui import Console

from omne_assistant import SimpleResponder
from omne_core.config import load_settings
from omne_core.memory import MemoryScope, MemoryStore
from omne_core.models import create_role_client


async def main(user: str) -> None:
    os.environ.setdefault("OMNE_DATA_DIR", ".omne-examples")
    settings = load_settings()
    store = await MemoryStore.open(settings)
    client = create_role_client(settings, "main")
    scope = MemoryScope(user_id=user)
    try:
        first = SimpleResponder("assistant", client, store, scope, model_client_stream=True)
        await Console(first.run_stream(task="My favourite hiking trail is the GR20 in Corsica."))
        await first.end_session()  # reflects: derives L1 conclusions citing this session's turns

        second = SimpleResponder("assistant", client, store, scope)  # a new session
        result = await second.run(task="Which hiking trail do I like best?")
        for message in result.messages:
            if isinstance(message, MemoryQueryEvent):
                for item in message.content:
                    print(f"memory {item.metadata['id'][:8]} ({item.metadata['kind']}): {item.content}")
        print("answer:", result.messages[-1].to_model_text())
    finally:
        await store.close()
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "example-user"))
