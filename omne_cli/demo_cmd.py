"""`omne demo`: the offline demo on the embedded defaults — a Simple Responder that remembers across sessions.

It feeds a short two-session conversation to a Simple Responder, shows what memory holds (L0 turns and
the L1 records derived from them, with their sources), then asks questions that need memory and shows
the memories retrieved for each answer. Data lives in a demo directory that is reset at every run.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import typer

USER = "sam"
SESSION_1 = [
    "Hi! I'm Sam. I just moved to Lyon for a job as a night nurse at the Croix-Rousse hospital.",
    "My daughter Lea turns 7 on March 14, and she is crazy about dinosaurs.",
    "Please remember that I am allergic to peanuts.",
]
QUESTIONS = [
    "I'm planning my daughter's birthday party. What theme would she like?",
    "Can you suggest a snack I can safely eat at the party?",
    "Which city do I work in, and what is my job?",
]
SMOKE_SYSTEM_MESSAGE = "Answer in one short sentence."  # a base model tends to echo its prompt: keep it short
REAL_MODEL_HELP = """Point Omne at a real model (any OpenAI-compatible server: vLLM, Ollama, llama.cpp server, LM Studio):
  export OMNE_MODELS__MAIN__PROVIDER=openai_compatible
  export OMNE_MODELS__MAIN__BASE_URL=http://127.0.0.1:11434/v1
  export OMNE_MODELS__MAIN__MODEL=qwen2.5:7b-instruct
or OpenAI:
  export OMNE_MODELS__MAIN__PROVIDER=openai OMNE_MODELS__MAIN__MODEL=gpt-4o-mini OPENAI_API_KEY=sk-...
or the same in ./omne.toml:
  [models.main]
  provider = "openai_compatible"
  base_url = "http://127.0.0.1:11434/v1"
  model = "qwen2.5:7b-instruct"
Then run `omne demo` again, or `omne chat --user you`."""


def demo(
    data_dir: Path = typer.Option(Path(".omne-demo"), "--data-dir", help="Demo data directory (reset at start)."),
    max_tokens: int = typer.Option(48, "--max-tokens", min=8, help="Reply length cap for the bundled smoke-test model."),
) -> None:
    """Run the offline memory demo: two sessions, reflection, and questions answered from memory."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    started = time.monotonic()
    try:
        asyncio.run(_demo(console, data_dir.resolve(), max_tokens))
    except _DemoFailed as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"\n[dim]demo finished in {time.monotonic() - started:.0f} s; data in {data_dir}/[/dim]")


class _DemoFailed(Exception):
    """The demo could not start (no model, no memory store); the message says why."""


def _reset(data_dir: Path) -> None:
    """Empty the demo directory but keep its `models/` cache (the assembled GGUF)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for child in data_dir.iterdir():
        if child.name == "models":
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _one_line(text: str, limit: int = 220) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def _demo(console: Any, data_dir: Path, max_tokens: int) -> None:
    from omne_assistant.clients import assistant_client
    from omne_core.config import ModelProvider, load_settings
    from omne_core.memory import MemoryScope, MemoryStore

    _reset(data_dir)
    settings = load_settings(data_dir=data_dir)
    main = settings.models.main
    smoke = main.provider is ModelProvider.LLAMACPP and main.gguf_path is None and settings.model_component is None
    reply_cap = (main.max_tokens or max_tokens) if smoke else None  # replies only: structured outputs are bounded

    console.rule("[bold]Omne demo: long-term memory for an AutoGen agent[/bold]")
    if settings.model_component is not None:
        model_name = f"the model component {settings.model_component}"
    elif smoke:
        model_name = "the bundled Gemma 3 270M base model (llama.cpp, offline)"
    else:
        model_name = f"{main.provider.value} model {main.model}"
    console.print(f"Model: {model_name}.  Memory: {settings.data_dir} (SQLite + chroma, local MiniLM embeddings).")
    if smoke:
        console.print(
            "[yellow]Honest note:[/yellow] the bundled 270M base model is a smoke-test model. It proves the whole "
            "pipeline runs offline, but its replies are mostly noise. Reflection and the session summary are "
            "constrained to their JSON schema, so they always form valid records citing real L0 turns — but what "
            "they say is this tiny model's, shown as-is. Memory retrieval below does not depend on it. Its replies "
            f"are capped at {reply_cap} tokens, shown as-is, and not recorded, so its noise does not pollute memory."
        )

    console.print("[dim]loading the model and the embedding model…[/dim]")
    try:
        client = assistant_client(settings, "main")
        store = await MemoryStore.open(settings)
    except Exception as exc:  # noqa: BLE001 - every start-up failure is reported with its reason
        raise _DemoFailed(f"{type(exc).__name__}: {exc}. Run `omne doctor` to see what is missing.") from exc
    try:
        await _run_sessions(console, store, client, MemoryScope(user_id=USER), record_replies=not smoke, reply_cap=reply_cap)
    finally:
        await store.close()
        await client.close()
    console.rule()
    console.print(REAL_MODEL_HELP, markup=False)


async def _run_sessions(
    console: Any, store: Any, client: Any, user: Any, *, record_replies: bool, reply_cap: int | None
) -> None:
    """Session 1 (facts), reflection and summary, the memory contents, then session 2 (questions)."""
    from omne_assistant import SimpleResponder

    def responder(session: str) -> SimpleResponder:
        options: dict[str, Any] = {} if record_replies else {"system_message": SMOKE_SYSTEM_MESSAGE}
        return SimpleResponder(
            "omne", client, store, user, session_id=session, reflect_every=None, record_replies=record_replies,
            model_create_args={"max_tokens": reply_cap} if reply_cap else None,
            **options,
        )  # fmt: skip

    console.rule("Session 1 — Sam talks about their life")
    first = responder("session-1")
    for text in SESSION_1:
        await _turn(console, first, text, show_memories=False)

    console.rule("End of session 1 — reflection derives L1 records from the L0 turns")
    report = await first.end_session()
    if report is not None and report.changed:
        console.print(f"reflection derived {len(report.created_ids)} L1 record(s), each citing its L0 sources.")
    if report is not None and report.rejected:
        console.print(f"[dim]dropped {len(report.rejected)} conclusion(s) the model wrote:[/dim]")
        for why in report.rejected:
            console.print(f"  {_one_line(why, 200)}", style="dim", markup=False)
    if report is None or not report.changed:
        reason = report.error if report is not None and report.error else "the model derived nothing"
        console.print(f"[yellow]reflection produced no valid L1 record; memory unchanged[/yellow] ({_one_line(reason, 200)})")
    await _summarize(console, store, client, first.write_scope, weak=not record_replies)
    await _show_memory(console, store, user)

    console.rule("Session 2 — a new session: questions that need memory")
    second = responder("session-2")
    for text in QUESTIONS:
        await _turn(console, second, text, show_memories=True)


async def _turn(console: Any, agent: Any, text: str, *, show_memories: bool) -> None:
    from autogen_agentchat.messages import MemoryQueryEvent, TextMessage

    console.print(f"\n[bold cyan]{USER}>[/bold cyan] {text}")
    result = await agent.run(task=text)
    for message in result.messages:
        if show_memories and isinstance(message, MemoryQueryEvent):
            console.print(f"[dim]  retrieved {len(message.content)} memories for the prompt (best first):[/dim]")
            for item in message.content[:4]:
                meta = item.metadata or {}
                console.print(
                    f"    {str(meta.get('id'))[:8]} {meta.get('kind'):<10} score {meta.get('score'):.3f}  {_one_line(str(item.content), 110)}",
                    style="dim", markup=False,
                )  # fmt: skip
    reply = result.messages[-1]
    if isinstance(reply, TextMessage):
        console.print("[bold green]omne>[/bold green] ", end="")
        console.print(_one_line(reply.content) or "(empty reply)", markup=False)


async def _summarize(console: Any, store: Any, client: Any, scope: Any, *, weak: bool) -> None:
    """Summarize session 1 into an L1 `summary` record; malformed model output is shown and changes nothing."""
    from omne_core.memory import summarize_session

    try:
        summary = await summarize_session(store, scope, client)
    except Exception as exc:  # noqa: BLE001 - shown, not hidden
        console.print(f"[yellow]session summary failed; memory unchanged[/yellow] ({_one_line(str(exc), 200)})")
        return
    console.print(f"session summary written as L1 record {summary.id[:8]} citing {len(summary.source_ids)} L0 turns.")
    if weak:
        console.print("[dim](its text comes from the smoke-test model: read it as a pipeline check, not a summary)[/dim]")


async def _show_memory(console: Any, store: Any, user: Any) -> None:
    from omne_core.memory import L0_KINDS, L1_KINDS

    console.rule(f"What memory holds for user '{user.user_id}'")
    l0 = await store.list(user, kinds=sorted(L0_KINDS), limit=None, oldest_first=True)
    l1 = await store.list(user, kinds=sorted(L1_KINDS), limit=None, oldest_first=True)
    console.print(f"[bold]L0 (raw turns): {len(l0)}[/bold]")
    for record in l0:
        console.print(f"  {record.id[:8]} {record.kind.value:<8} {_one_line(record.text, 140)}", markup=False)
    console.print(f"[bold]L1 (derived): {len(l1)}[/bold]")
    if not l1:
        console.print("  (none — no derivation produced valid output)")
    for record in l1:
        sources = ", ".join(s[:8] for s in record.source_ids)
        console.print(f"  {record.id[:8]} {record.kind.value:<8} {_one_line(record.text, 140)}", markup=False)
        console.print(f"           sources: {sources}", style="dim", markup=False)
