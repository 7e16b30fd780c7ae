"""`omne demo`: the offline demo on the embedded defaults — a Simple Responder that remembers across sessions.

It feeds a short two-session conversation to a Simple Responder, shows what memory holds (L0 turns and
the L1 records derived from them, with their sources), then asks questions that need memory and shows
the memories retrieved for each answer. Data lives in a demo directory that is reset at every run: only a
folder the demo made (it holds the `MARKER` file and nothing but demo data) is ever emptied.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import typer

from .display import one_line, reflection_notes, styled, terminal
from .errors import CliError

USER = "sam"
MARKER = ".omne-demo"  # written in every demo data directory: only such a folder is ever reset
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
    data_dir: Path = typer.Option(
        Path(".omne-demo"), "--data-dir", help="Demo data directory: a new or empty folder, or one a previous demo made (reset at start)."
    ),
    max_tokens: int = typer.Option(48, "--max-tokens", min=8, help="Reply length cap for the bundled smoke-test model."),
) -> None:
    """Run the offline memory demo: two sessions, reflection, and questions answered from memory."""
    console = terminal(soft_wrap=True)
    started = time.monotonic()
    try:
        asyncio.run(_demo(console, data_dir.resolve(), max_tokens))
    except _DemoFailed as exc:
        raise CliError(f"demo failed: {exc}") from None  # `error: demo failed: ...` on stderr, exit code 1
    console.print(f"\ndemo finished in {time.monotonic() - started:.0f} s; data in {data_dir}/", style="dim")


class _DemoFailed(Exception):
    """The demo could not start (no model, no memory store); the message says why."""


def _demo_entries(settings: Any) -> set[str]:
    """The names a demo writes in its data directory (the store, its lock, index and blobs, the model cache)."""
    from omne_core.memory.backends.embedded.lock import LOCK_FILE

    database = settings.memory.sqlite_file
    return {
        MARKER, LOCK_FILE, "models", "downloads", database, f"{database}-wal", f"{database}-shm",
        f"{database}-journal", settings.chroma_path.name, settings.blob_dir.name,
    }  # fmt: skip


def _refuse_foreign(data_dir: Path, settings: Any) -> None:
    """Refuse any --data-dir but a new or empty folder or one a previous demo made and holds nothing else: a
    project or a real memory store named by mistake must never lose a file."""
    from omne_core.memory.backends.embedded.lock import LOCK_FILE

    if data_dir.exists() and not data_dir.is_dir():
        raise _DemoFailed(f"{data_dir} is a file; --data-dir needs a folder")
    children = sorted(c.name for c in data_dir.iterdir() if c.name != LOCK_FILE) if data_dir.is_dir() else []
    if children and MARKER not in children:
        names = ", ".join(children[:5]) + (", ..." if len(children) > 5 else "")
        raise _DemoFailed(
            f"{data_dir} is not empty ({names}) and no previous demo made it, so the demo will not reset it. "
            "Give --data-dir a new or empty folder."
        )
    foreign = [name for name in children if name not in _demo_entries(settings)]
    if foreign:
        raise _DemoFailed(
            f"{data_dir} holds files the demo did not write ({', '.join(foreign[:5])}), so the demo will not reset it. "
            "Move them away, or give --data-dir a new or empty folder."
        )


def _reset(data_dir: Path) -> None:
    """Empty a demo directory `_refuse_foreign` accepted (keeping its `models/` cache) and mark it as the demo's.
    The caller holds the directory's lock, so no other process is using the store being emptied."""
    from omne_core.memory.backends.embedded.lock import LOCK_FILE

    for child in data_dir.iterdir():
        if child.name in {"models", MARKER, LOCK_FILE}:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    (data_dir / MARKER).write_text("Made by `omne demo`, which empties this folder at every run.\n", encoding="utf-8")


async def _demo(console: Any, data_dir: Path, max_tokens: int) -> None:
    from omne_core.memory import MemoryStoreError
    from omne_core.memory.backends.embedded import lock as data_dir_lock

    from .runtime import load

    settings = load(data_dir=data_dir)
    _refuse_foreign(data_dir, settings)
    try:
        lock = data_dir_lock.acquire(data_dir)  # held through the demo: no other process uses what is reset
    except MemoryStoreError as exc:
        raise _DemoFailed(str(exc)) from None
    try:
        _reset(data_dir)
        await _demo_in(console, data_dir, settings, max_tokens)
    finally:
        data_dir_lock.release(lock)


async def _demo_in(console: Any, data_dir: Path, settings: Any, max_tokens: int) -> None:
    from omne_assistant.clients import assistant_client, prose_args
    from omne_core.memory import MemoryScope, MemoryStore
    from omne_core.models.gguf import is_bundled

    main = settings.models.main
    smoke = is_bundled(main) and settings.model_component is None
    reply_cap = (main.max_tokens or max_tokens) if smoke else None  # replies only: structured outputs are bounded

    console.rule("Omne demo: long-term memory for an AutoGen agent")
    if settings.model_component is not None:
        model_name = f"the model component {settings.model_component}"
    elif smoke:
        model_name = "the bundled Gemma 3 270M base model (llama.cpp, offline)"
    else:
        model_name = f"{main.provider.value} model {main.model}"
    console.print(f"Model: {model_name}.  Memory: {settings.data_dir} (SQLite + chroma, local MiniLM embeddings).")
    if smoke:
        console.print(
            styled(("Honest note: ", "yellow"), "the bundled 270M base model is a smoke-test model. It proves the whole "
            "pipeline runs offline, but its replies are mostly noise. Reflection and the session summary are "
            "constrained to their JSON schema and checked (a conclusion cites the turns that share its words, a "
            "summary that loops is refused), so what is stored cites real L0 turns — but what it says is this tiny "
            "model's, shown as-is. Memory retrieval below does not depend on it. Its replies "
            f"are capped at {reply_cap} tokens, shown as-is, and not recorded, so its noise does not pollute memory.")
        )

    console.print("loading the model and the embedding model…", style="dim")
    try:
        client = assistant_client(settings, "main")
        store = await MemoryStore.open(settings)
    except Exception as exc:  # noqa: BLE001 - every start-up failure is reported with its reason
        raise _DemoFailed(f"{type(exc).__name__}: {exc}. Run `omne doctor` to see what is missing.") from exc
    try:
        await _run_sessions(console, store, client, MemoryScope(user_id=USER), record_replies=not smoke, reply_cap=reply_cap,
                            prose=prose_args(settings, "main"))  # fmt: skip
    finally:
        await store.close()
        await client.close()
    console.rule()
    console.print(REAL_MODEL_HELP)


async def _run_sessions(
    console: Any, store: Any, client: Any, user: Any, *, record_replies: bool, reply_cap: int | None, prose: Any
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
    for line in reflection_notes(report) if report is not None else []:
        console.print(line, style="dim")
    if report is None or not report.changed:
        reason = report.error if report is not None and report.error else "the model derived nothing"
        console.print(styled(("reflection produced no valid L1 record; memory unchanged", "yellow"), f" ({one_line(reason, 200)})"))
    await _summarize(console, store, client, first.write_scope, prose, weak=not record_replies)
    await _show_memory(console, store, user)

    console.rule("Session 2 — a new session: questions that need memory")
    second = responder("session-2")
    for text in QUESTIONS:
        await _turn(console, second, text, show_memories=True)


async def _turn(console: Any, agent: Any, text: str, *, show_memories: bool) -> None:
    from autogen_agentchat.messages import MemoryQueryEvent, TextMessage

    console.print()
    console.print(styled((f"{USER}>", "bold cyan"), f" {text}"))
    result = await agent.run(task=text)
    for message in result.messages:
        if show_memories and isinstance(message, MemoryQueryEvent):
            console.print(f"  retrieved {len(message.content)} memories for the prompt (best first):", style="dim")
            for item in message.content[:4]:
                meta = item.metadata or {}
                console.print(
                    f"    {str(meta.get('id'))[:8]} {meta.get('kind'):<10} score {meta.get('score'):.3f}  {one_line(item.content, 110)}",
                    style="dim",
                )  # fmt: skip
                for source in meta.get("sources", [])[:3]:  # what an L1 hit brings into the prompt with it
                    console.print(f"      with its source {str(source['id'])[:8]}  {one_line(source['text'], 100)}", style="dim")
    reply = result.messages[-1]
    if isinstance(reply, TextMessage):
        console.print("omne> ", style="bold green", end="")
        console.print(one_line(reply.content, 220) or "(empty reply)")


async def _summarize(console: Any, store: Any, client: Any, scope: Any, prose: Any, *, weak: bool) -> None:
    """Summarize session 1 into an L1 `summary` record (`prose`: what the client is sent besides the messages,
    `clients.prose_args`); malformed model output is shown and changes nothing."""
    from omne_core.memory import summarize_session

    try:
        summary = await summarize_session(store, scope, client, create_args=prose)
    except Exception as exc:  # noqa: BLE001 - shown, not hidden
        console.print(styled(("session summary failed; memory unchanged", "yellow"), f" ({one_line(exc, 200)})"))
        return
    console.print(f"session summary written as L1 record {summary.id[:8]} citing {len(summary.source_ids)} L0 turns.")
    if weak:
        console.print("(its text comes from the smoke-test model: read it as a pipeline check, not a summary)", style="dim")


async def _show_memory(console: Any, store: Any, user: Any) -> None:
    from omne_core.memory import L0_KINDS, L1_KINDS

    console.rule(f"What memory holds for user '{user.user_id}'")
    l0 = await store.list(user, kinds=sorted(L0_KINDS), limit=None, oldest_first=True)
    l1 = await store.list(user, kinds=sorted(L1_KINDS), limit=None, oldest_first=True)
    console.print(f"L0 (raw turns): {len(l0)}", style="bold")
    for record in l0:
        console.print(f"  {record.id[:8]} {record.kind.value:<8} {one_line(record.text, 140)}")
    console.print(f"L1 (derived): {len(l1)}", style="bold")
    if not l1:
        console.print("  (none — no derivation produced valid output)")
    for record in l1:
        sources = ", ".join(s[:8] for s in record.source_ids)
        console.print(f"  {record.id[:8]} {record.kind.value:<8} {one_line(record.text, 140)}")
        console.print(f"           sources: {sources}", style="dim")
