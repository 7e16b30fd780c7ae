"""`omne chat` driven through its stdin with a scripted model loaded by `--model-component` (memory real)."""

from __future__ import annotations

import json
import re

from autogen_ext.models.replay import ReplayChatCompletionClient
from typer.testing import CliRunner

from omne_cli.app import app

runner = CliRunner()


def _model_file(tmp_path, name: str, *replies: str):
    path = tmp_path / f"{name}.json"
    path.write_text(ReplayChatCompletionClient(list(replies)).dump_component().model_dump_json())
    return path


def _chat(tmp_path, name: str, user: str, lines: list[str], *replies: str) -> str:
    model = _model_file(tmp_path, name, *replies)
    result = runner.invoke(app, ["chat", "--user", user, "--model-component", str(model)], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_second_run_remembers_the_first_and_another_user_sees_nothing(tmp_path):
    reflection = json.dumps({"memories": [{"kind": "preference", "text": "Favourite colour: teal.", "source_ids": ["S1"],
                                           "supersedes": [], "importance": 0.6, "confidence": 0.9}]})  # fmt: skip
    out1 = _chat(tmp_path, "run1", "alice", ["My favourite colour is teal.", "/quit"], "Noted: teal.", reflection)
    assert "Noted: teal." in out1
    assert "Favourite colour: teal." in out1  # the end-of-session reflection printed its L1 record

    out2 = _chat(
        tmp_path, "run2", "alice", ["/memory favourite colour", "What is my favourite colour?", "/history"], "Teal.", "{}"
    )
    assert "My favourite colour is teal." in out2 and "Favourite colour: teal." in out2  # /memory found L0 and L1
    assert re.search(r"memories used: [0-9a-f]{8}", out2)  # the turn was grounded on stored memories
    assert "Teal." in out2
    assert "user: My favourite colour is teal." in out2 and "user: What is my favourite colour?" in out2  # /history

    out3 = _chat(tmp_path, "run3", "bob", ["/memory favourite colour", "What is my favourite colour?"], "I don't know.", "{}")
    assert "no memories match" in out3
    assert "teal" not in out3.lower().replace("i don't know.", "")
    assert "memories used" not in out3


def test_forget_only_touches_the_users_own_memories(tmp_path):
    out = _chat(tmp_path, "a", "alice", ["My locker code is 4312.", "/memory locker code"], "Saved.", "{}")
    record_id = re.search(r"([0-9a-f]{32})  message .*My locker code", out).group(1)

    out_bob = _chat(tmp_path, "b", "bob", [f"/forget {record_id}"])
    assert f"no memory {record_id} for user bob" in out_bob

    out_alice = _chat(tmp_path, "c", "alice", [f"/forget {record_id}", "/memory locker code", f"/history {record_id}"])
    assert f"forgot {record_id}" in out_alice
    assert "My locker code is 4312." not in out_alice.split(f"forgot {record_id}")[1].split("delete")[0]
    assert "delete v2 by chat:alice" in out_alice  # the change history records who forgot it


def test_bad_model_component_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["chat", "--model-component", str(bad)], input="/quit\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot load the model: ") and "is not JSON" in result.stderr
    assert result.stdout == ""  # the error is one line on stderr, as every command's


def test_reactive_mode_solves_a_task_and_keeps_an_experience(tmp_path):
    plan = json.dumps({"analysis": {"asked": "a product", "constraints": ["integer"], "answer_format": "a number"},
                       "steps": ["multiply 17 by 23"]})  # fmt: skip
    check = json.dumps({"satisfies": True, "problems": [], "final_answer": "391"})
    lesson = json.dumps({"worked": "mental arithmetic", "failed": "", "lesson": "Small products need no tool."})
    model = _model_file(tmp_path, "reactive", plan, "FINAL ANSWER: 391", check, lesson)
    result = runner.invoke(
        app, ["chat", "--reactive", "--user", "rita", "--model-component", str(model)],
        input="What is 17 * 23?\n/memory small products\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "reactive (tools: web_search" in result.output
    assert "1. multiply 17 by 23" in result.output and "omne> 391" in result.output
    assert "experience" in result.output and "Lesson: Small products need no tool." in result.output


def test_reactive_chat_has_all_four_tools_and_reads_only_the_folders_given(tmp_path):
    """`omne chat --reactive --files DIR` (issue 14.20): web search, browser, file reader and the logic expert; the
    file reader opens a file under DIR and refuses one beside it."""
    from tests.support.scripted import TOOL_MODEL, calls, check, lesson, plan

    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "code.txt").write_text("The code word is heliotrope.\n")
    (outside / "secret.txt").write_text("The vault number is 7731.\n")
    replies = [
        plan("the code word", ["read the file"], fmt="a word"), calls(("read_file", {"path": str(allowed / "code.txt")})),
        "FINAL ANSWER: heliotrope", check(True, "heliotrope"), lesson("Read the file first."),
        plan("the vault number", ["read the file"]), calls(("read_file", {"path": str(outside / "secret.txt")})),
        '{"reason": "the file is not readable", "steps": ["say so"]}', "FINAL ANSWER: unknown", check(True, "unknown"), lesson("Only the allowed folder is readable."),
    ]  # fmt: skip
    model = tmp_path / "reactive.json"
    model.write_text(ReplayChatCompletionClient(replies, model_info=TOOL_MODEL).dump_component().model_dump_json())
    result = runner.invoke(
        app, ["chat", "--reactive", "--user", "rita", "--model-component", str(model), "--files", str(allowed)],
        input="What is the code word?\nWhat is the vault number?\n",
    )  # fmt: skip
    out = result.output
    assert result.exit_code == 0, out + repr(result.exception)
    tools = re.search(r"reactive \(tools: ([^)]*)\)", out.replace("\n", " "))
    assert tools is not None, out
    names = {name.strip() for name in tools.group(1).split(",")}
    assert {"web_search", "visit_page", "read_file", "ask_logic_expert"} <= names, names
    assert f"files under {allowed}" in out.replace("\n", "")
    first, second = out.split("Asked: the vault number", 1)
    assert "<- read_file: File: code.txt" in first and "The code word is heliotrope." in first and "omne> heliotrope" in first
    assert "x read_file: Error: Refused:" in second and "is outside the files you may read" in second, second
    assert "7731" not in out  # the file beside the allowed folder was never read
    assert "omne> unknown" in second


def test_the_reflection_at_the_end_says_which_conclusions_it_re_cited(tmp_path):
    """The model cites the wrong turn (S1) for a conclusion about the second one: stored citing S2, and said."""
    reflection = json.dumps({"memories": [{"kind": "fact", "text": "The user's daughter loves dinosaurs.",
                                           "source_ids": ["S1"], "supersedes": [], "importance": 0.6, "confidence": 0.9}]})  # fmt: skip
    out = _chat(tmp_path, "run", "sam", ["I moved to Lyon.", "My daughter loves dinosaurs.", "/quit"], "Noted.", "Nice.",
                reflection)  # fmt: skip
    assert "re-cited 1 conclusion(s) the model wrote:" in out and "which shares no word with it" in out
    lyon, dinosaurs = re.search(r"([0-9a-f]{8}).*which shares no word with it: cites ([0-9a-f]{8})", out).groups()
    assert re.search(rf"fact [0-9a-f]{{8}}: The user's daughter loves dinosaurs\.  \(from {dinosaurs}\)", out)
    assert lyon != dinosaurs
