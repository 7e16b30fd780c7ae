"""`omne chat`: a terminal chat with persistent memory per user, or `--reactive` task solving with tools."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from .display import one_line, reflection_notes, styled, terminal
from .errors import CliError
from .options import scope_of
from .runtime import load, open_memory

HELP = """Commands:
  /memory QUERY   search your memories (id, kind, score, text)
  /forget ID      delete one of your memories
  /reflect        derive L1 conclusions from this session now
  /history [ID]   recent conversation turns, or the change history of memory ID
  /help           this help
  /quit           end the session (reflects on it first); Ctrl-D does the same"""


def chat(
    user: str = typer.Option("default", "--user", "-u", help="Whose memory to use."),
    session: str | None = typer.Option(None, "--session", help="Session id (default: a new one)."),
    reactive: bool = typer.Option(False, "--reactive", help="Solve each line as a task with tools (Reactive Responder)."),
    reflect_every: int = typer.Option(5, "--reflect-every", min=0, help="Reflect every N turns (0: only at the end)."),
    model_component: Path | None = typer.Option(
        None, "--model-component", help="An AutoGen ChatCompletionClient component JSON file to use instead of the configured model."
    ),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Print the answer as it is generated."),
    files: list[Path] | None = typer.Option(
        None, "--files", exists=True, file_okay=False, resolve_path=True,
        help="A folder the reactive mode's file reader may read (repeatable).",
    ),  # fmt: skip
) -> None:
    """Chat in the terminal with persistent memory."""
    if files and not reactive:
        raise typer.BadParameter("the file reader is a tool of --reactive", param_hint="--files")
    console = terminal(soft_wrap=True)
    scope = scope_of(user)
    try:
        asyncio.run(_chat(console, scope, session, reactive, reflect_every, model_component, stream, files or []))
    except KeyboardInterrupt:  # Ctrl-C: the turn in flight was cancelled, its model call stopped, nothing more runs
        console.print("\ninterrupted", style="dim")
        raise typer.Exit(130) from None  # 128 + SIGINT, as a shell reports it


async def _chat(
    console: Any, scope: Any, session: str | None, reactive: bool, reflect_every: int, component: Path | None,
    stream: bool, files: list[Path],
) -> None:  # fmt: skip
    from omne_assistant.clients import ModelComponentError, assistant_client

    settings = load()
    try:
        client = assistant_client(settings, "main", component)
    except (ModelComponentError, ValueError, RuntimeError) as exc:
        raise CliError(f"cannot load the model: {exc}", code=2) from None
    clients = [client]
    try:
        store = await open_memory(settings)  # a server's memory when OMNE_SERVER__URL is set
        try:
            session_runner = _ChatSession(console, store, client, scope, settings)
            clients += await session_runner.start(session, reactive, reflect_every, stream, files, component)
            await session_runner.loop()
        finally:
            await store.close()
    finally:
        for owned in clients:
            await owned.close()


class _ChatSession:
    """One terminal session: reads lines, runs slash commands, sends the rest to the agent."""

    def __init__(self, console: Any, store: Any, client: Any, user_scope: Any, settings: Any) -> None:
        self.console, self.store, self.client, self.user_scope, self.settings = console, store, client, user_scope, settings
        self.agent: Any = None
        self.reactive = False

    async def start(
        self, session: str | None, reactive: bool, reflect_every: int, stream: bool, files: list[Path],
        component: Path | None = None,
    ) -> list[Any]:  # fmt: skip
        """Build the agent; returns the extra model clients it owns (closed when the chat ends)."""
        from omne_assistant import ReactiveResponder, SimpleResponder
        from omne_core.memory import MemoryScope

        self.reactive = reactive
        user = self.user_scope.user_id
        owned: list[Any] = []
        if reactive:
            from omne_assistant.clients import helper_clients
            from omne_tools import build_toolset

            logic, vision = helper_clients(self.settings, self.client, component)
            owned = [c for c in (logic, vision) if c is not None and c is not self.client]
            toolset = build_toolset(
                self.settings, model_client=self.client, logic_client=logic, vision_client=vision, file_roots=files
            )
            scope = MemoryScope(user_id=user, agent_id="omne_reactive")
            self.agent = ReactiveResponder("omne_reactive", self.client, toolset, memory=self.store, scope=scope)
            mode = "reactive (tools: " + ", ".join(t.name for t in self.agent.tools) + ")"
            if files:
                mode += "; files under " + ", ".join(str(f) for f in files)
        else:
            self.agent = SimpleResponder(
                "omne", self.client, self.store, self.user_scope, session_id=session,
                reflect_every=reflect_every or None, model_client_stream=stream,
                context_max_tokens=self.settings.memory.context_max_tokens,
            )  # fmt: skip
            mode = f"chat, session {self.agent.session_id}"
        self.console.print(styled(("omne chat", "bold"), " — user ", (user, "cyan"), f", {mode}. /help for commands."))
        return owned

    async def loop(self) -> None:
        while True:
            line = await _next_line("you> ")
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not await self.command(line):
                    break
                continue
            await self.turn(line)
        await self.finish()

    async def turn(self, text: str) -> None:
        from autogen_agentchat.base import TaskResult
        from autogen_agentchat.messages import (
            MemoryQueryEvent,
            ModelClientStreamingChunkEvent,
            TextMessage,
            ThoughtEvent,
            ToolCallExecutionEvent,
            ToolCallRequestEvent,
        )

        streamed = False
        async for item in self.agent.run_stream(task=text, output_task_messages=False):
            if isinstance(item, MemoryQueryEvent) and item.content:
                ids = ", ".join(str((c.metadata or {}).get("id", "?"))[:8] for c in item.content)
                self.console.print(f"memories used: {ids}", style="dim")
            elif isinstance(item, ThoughtEvent):
                self.console.print(item.content, style="dim")
            elif isinstance(item, ToolCallRequestEvent):
                for call in item.content:
                    self.console.print(f"-> {call.name}({call.arguments[:200]})", style="dim")
            elif isinstance(item, ToolCallExecutionEvent):
                for out in item.content:
                    mark = "x" if out.is_error else "<-"
                    self.console.print(f"{mark} {out.name}: {out.content[:300]}", style="dim")
            elif isinstance(item, ModelClientStreamingChunkEvent):
                if not streamed:
                    self.console.print("omne> ", style="bold green", end="")
                    streamed = True
                self.console.print(item.content, end="")
            elif isinstance(item, TextMessage) and item.source == self.agent.name:
                if streamed:
                    self.console.print()
                else:
                    self.console.print("omne> ", style="bold green", end="")
                    self.console.print(item.content)
            elif isinstance(item, TaskResult):
                continue

    async def command(self, line: str) -> bool:
        """Run a slash command; False ends the session."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in {"/quit", "/exit"}:
            return False
        if name == "/help":
            self.console.print(HELP)
        elif name == "/memory":
            await self.show_search(arg)
        elif name == "/forget":
            await self.forget(arg)
        elif name == "/reflect":
            await self.reflect()
        elif name == "/history":
            await self.history(arg)
        else:
            self.console.print(f"unknown command {name}", style="red")
            self.console.print(HELP)
        return True

    async def show_search(self, query: str) -> None:
        if not query:
            self.console.print("usage: /memory QUERY")
            return
        hits = await self.store.search(query, self.user_scope, limit=10)
        if not hits:
            self.console.print("no memories match", style="dim")
            return
        for hit in hits:
            record = hit.record
            when = (record.event_time or record.created_at).strftime("%Y-%m-%d")
            sources = f" (from {', '.join(s[:8] for s in record.source_ids)})" if record.source_ids else ""
            self.console.print(f"{record.id}  {record.kind.value:<10} {hit.score:6.3f}  {when}  {one_line(record.text, 200)}{sources}")
            for source in hit.sources:  # what the conclusion was drawn from, in this scope
                self.console.print(f"  ↳ {source.id}  {source.kind.value:<10} {one_line(source.text, 200)}")

    async def _own(self, record_id: str) -> Any:
        """The user's record with this id or id prefix; None (and a message) when there is none or several."""
        from omne_core.memory.errors import AmbiguousIdError, MemoryNotFoundError, MemoryValidationError

        try:
            return await self.store.resolve(record_id, self.user_scope)  # only this user's memories
        except AmbiguousIdError as exc:
            self.console.print(str(exc), style="red")
        except (MemoryNotFoundError, MemoryValidationError):
            self.console.print(f"no memory {record_id} for user {self.user_scope.user_id}", style="red")
        return None

    async def forget(self, record_id: str) -> None:
        if not record_id:
            self.console.print("usage: /forget ID")
            return
        record = await self._own(record_id)
        if record is None:
            return
        await self.store.delete(record.id, actor=f"chat:{self.user_scope.user_id}")
        self.console.print(f"forgot {record.id}")

    async def reflect(self) -> None:
        if self.reactive:
            self.console.print("/reflect is for chat sessions; the reactive mode learns after each task", style="dim")
            return
        report = await self.agent.reflect()
        await self._print_reflection(report)

    async def _print_reflection(self, report: Any) -> None:
        if report.error:
            self.console.print(f"reflection failed, memory unchanged: {report.error}", style="yellow")
            return
        for line in reflection_notes(report):
            self.console.print(line, style="dim")
        if not report.changed:
            self.console.print("reflection derived nothing new; memory unchanged", style="dim")
            return
        for record_id in report.created_ids:
            record = await self.store.get(record_id)
            sources = ", ".join(s[:8] for s in record.source_ids)
            self.console.print(f"{record.kind.value} {record.id[:8]}: {one_line(record.text, 300)}  (from {sources})")

    async def history(self, record_id: str) -> None:
        from omne_core.memory import MemoryKind

        if record_id:
            record = await self._own(record_id)
            if record is None:
                return
            for change in await self.store.history(record.id):
                self.console.print(f"{change.at:%Y-%m-%d %H:%M:%S} {change.op} v{change.version} by {change.actor}")
            return
        records = await self.store.list(self.user_scope, kinds=[MemoryKind.MESSAGE], limit=20)
        if not records:
            self.console.print("no conversation yet", style="dim")
        for record in reversed(records):
            when = (record.event_time or record.created_at).strftime("%Y-%m-%d %H:%M")
            self.console.print(f"{when} {record.id[:8]}  {one_line(record.text, 300)}")

    async def finish(self) -> None:
        if not self.reactive and self.agent is not None:
            report = await self.agent.end_session()
            if report is not None:
                await self._print_reflection(report)
        self.console.print("bye", style="dim")


async def _next_line(prompt: str) -> str | None:
    """`_read_line` in a daemon thread: a Ctrl-C at the prompt ends the chat at once, where a pool thread
    blocked on the terminal would keep the interpreter waiting for one more line."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def deliver(line: str | None, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line)

    def read() -> None:
        try:
            line, error = _read_line(prompt), None
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
            line, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits for this line any more
            loop.call_soon_threadsafe(deliver, line, error)

    threading.Thread(target=read, name="omne-chat-input", daemon=True).start()
    return await future


def _read_line(prompt: str) -> str | None:
    """One line from the terminal (with a prompt) or from piped stdin; None at end of input."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line if line else None
