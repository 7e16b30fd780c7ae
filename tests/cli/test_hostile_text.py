"""Text from records, file names and model replies is shown as data: never rich markup, emoji codes or terminal
control sequences (issue 14 item 6)."""

from __future__ import annotations

import json
import re

from autogen_ext.models.replay import ReplayChatCompletionClient

from .support import invoke, ok, omne

MARKUP = "[bold]loud[/bold] at [/tmp/x] via [link=https://evil.example]click[/link] :smile:"
CONTROL = "red \x1b[31malert\x1b[0m bell\x07 \u202eevil"
LITERAL = ["[bold]loud[/bold]", "[/tmp/x]", "[link=https://evil.example]click[/link]", ":smile:"]
VISIBLE = ["\\x1b[31malert", "bell\\x07", "\\u202eevil"]


def assert_literal(output: str, *, escaped: bool = True) -> None:
    """Every markup string printed as written; no control character reached the output, each shown escaped."""
    for text in LITERAL:
        assert text in output, output
    assert "😄" not in output
    for char in ("\x1b", "\x07", "\u202e"):
        assert char not in output, repr(output)
    if escaped:
        for text in VISIBLE:
            assert text in output, output


def test_memory_commands_print_hostile_records_literally(embedder):
    first = ok("memory", "add", MARKUP, "--user", "mal").strip()
    second = ok("memory", "add", CONTROL, "--user", "mal", "--kind", "fact").strip()
    assert_literal(ok("memory", "list", "--user", "mal"))
    assert_literal(ok("memory", "search", "loud alert evil", "--user", "mal", "--limit", "5"))
    shown = ok("memory", "show", first, "--user", "mal") + ok("memory", "show", second, "--user", "mal")
    assert_literal(shown, escaped=False)  # JSON: its own escapes
    assert json.loads(ok("memory", "show", second, "--user", "mal"))["text"] == CONTROL  # the data is intact
    assert_literal(ok("memory", "history", first, "--user", "mal") + ok("memory", "history", second, "--user", "mal"), escaped=False)
    assert_literal(ok("memory", "list", "--user", "mal", "--json"), escaped=False)


def test_ingested_files_with_hostile_names_and_text(tmp_path, embedder):
    """Chunks start with `[/path/file]`: listing them after an ingest was a rich MarkupError traceback."""
    folder = tmp_path / "[red]docs"
    folder.mkdir()
    (folder / "[bold]notes.md").write_text(f"{MARKUP}\n")
    (folder / "ctl.txt").write_text(f"{CONTROL}\n")
    (folder / "esc\x1b[2Jname.txt").write_text("")  # empty: skipped, its name shown in the skipped table
    out = ok("memory", "ingest", str(folder), "--user", "docs")
    cells = re.sub(r"[\s│]+", "", out)  # the skipped table folds long paths over lines
    assert "esc\\x1b[2Jname.txt" in cells and "\x1b" not in out
    listed = ok("memory", "list", "--user", "docs")
    assert "[red]docs/[bold]notes.md]" in re.sub(r"[\s│]+", "", listed)  # the chunk's `[path]` prefix
    assert_literal(listed)
    assert_literal(ok("memory", "search", "loud alert", "--user", "docs"))


def test_the_real_command_lists_an_ingested_file_without_a_traceback(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "readme.txt").write_text("The build uses [bold] tags and a [/b] closer.\n")
    done = omne("memory", "ingest", str(folder), "--user", "sub")
    assert done.returncode == 0, done.stderr
    done = omne("memory", "list", "--user", "sub")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "[bold] tags and a [/b] closer." in done.stdout
    assert re.search(r"\[/[^\]]*readme\.txt\]", done.stdout.replace("\n", "")), done.stdout


def test_chat_prints_hostile_user_ids_replies_and_memories_literally(tmp_path, embedder):
    model = tmp_path / "model.json"
    reply = f"{MARKUP} {CONTROL}"
    model.write_text(ReplayChatCompletionClient([reply, "{}"]).dump_component().model_dump_json())
    out = ok(
        "chat", "--user", "[bold]eve[/bold]", "--model-component", str(model), "--no-stream",
        input=f"{MARKUP}\n/memory loud\n/history\n/forget [/nope]\n/quit\n",
    )  # fmt: skip
    assert "user [bold]eve[/bold]" in out
    reply_line = next(line for line in out.splitlines() if line.startswith("omne> "))
    assert_literal(reply_line)
    assert "no memory [/nope] for user [bold]eve[/bold]" in out
    assert_literal(out.split("/memory")[-1] if "/memory" in out else out)


def test_gaia_errors_and_warnings_show_task_ids_and_paths_literally(tmp_path):
    from tests.gaia.gaia_fixture import write_gaia_fixture

    root = write_gaia_fixture(tmp_path / "GAIA")
    hostile = "\x1b]0;pwned\x07[bold]x"
    result = invoke("gaia", "run", "--data", str(root), "--task-id", hostile, "--out", str(tmp_path / "run"), "--no-progress")
    assert result.exit_code == 2
    assert "unknown task id" in result.output and "\\x1b]0;pwned\\x07[bold]x" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
