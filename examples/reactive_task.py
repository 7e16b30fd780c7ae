"""The Reactive Responder on one task: analyse, plan, act with tools, re-plan, check, answer — and learn.

It uses the Omne toolset (web search, browser, file reader, logic expert when configured) and stores an
`experience` record after the task, which it recalls when planning similar tasks later. Tool use needs a
model that can call functions: configure `OMNE_MODELS__MAIN__*` (the bundled 270M model is a smoke test
and will mostly fail to plan; the run then ends with a clear `model_error` or budget result, not a crash).

Run:  python examples/reactive_task.py "What is the capital of the country where the Rhone rises?"
"""

from __future__ import annotations

import asyncio
import os
import sys

from omne_assistant import ReactiveResponder, TaskBudget
from omne_core.config import load_settings
from omne_core.memory import MemoryScope, MemoryStore
from omne_core.models import create_role_client
from omne_tools import build_toolset


async def main(task: str) -> None:
    os.environ.setdefault("OMNE_DATA_DIR", ".omne-examples")
    settings = load_settings()
    store = await MemoryStore.open(settings)
    client = create_role_client(settings, "main")
    try:
        agent = ReactiveResponder(
            "solver",
            client,
            build_toolset(settings, model_client=client),
            memory=store,
            scope=MemoryScope(user_id="example-user", agent_id="solver"),
            budget=TaskBudget(max_steps=8, max_seconds=300, max_tokens=40_000),
        )
        result = await agent.solve(task)
        for step in result.trace:
            print(f"{step.step:>2} {step.kind:<8} {'ok ' if step.ok else 'ERR'} {step.detail[:150]}")
        print(result.summary())
        if result.experience_id:
            print("experience stored:", result.experience_id)
    finally:
        await store.close()
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(" ".join(sys.argv[1:]) or "What is 17 * 23? Answer with a number."))
