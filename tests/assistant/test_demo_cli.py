"""`omne demo` end to end with a scripted model (via $OMNE_MODEL_COMPONENT); memory, files and retrieval real."""

from __future__ import annotations

import asyncio
import json
import re

from autogen_ext.models.replay import ReplayChatCompletionClient
from typer.testing import CliRunner

from omne_cli.app import app
from omne_cli.demo_cmd import MARKER, USER
from omne_core.config import load_settings
from omne_core.memory import MemoryKind, MemoryRecord, MemoryScope, MemoryStore


def _previous_demo(demo_dir) -> None:
    """A folder as an earlier demo left it: the marker, a store holding a record, the models cache."""

    async def fill() -> None:
        async with await MemoryStore.open(load_settings(data_dir=demo_dir)) as store:
            await store.add(MemoryRecord(kind=MemoryKind.FACT, text="stale memory", scope=MemoryScope(user_id=USER)))

    asyncio.run(fill())
    (demo_dir / MARKER).write_text("made by omne demo\n")
    (demo_dir / "models").mkdir()


def test_demo_shows_l0_l1_with_sources_and_answers_from_memory(tmp_path, monkeypatch):
    reflection = json.dumps(
        {
            "memories": [
                {"kind": "fact", "text": "Sam's daughter Lea loves dinosaurs.", "source_ids": ["S3"], "supersedes": [],
                 "importance": 0.6, "confidence": 0.9},
                {"kind": "fact", "text": "Sam is allergic to peanuts.", "source_ids": ["S5"], "supersedes": [],
                 "importance": 0.9, "confidence": 0.9},
            ]
        }
    )
    replies = ["Welcome to Lyon!", "Dinosaurs, nice.", "Noted.", reflection, json.dumps({"summary": "Sam, a nurse in Lyon, has a daughter."}),
               "A dinosaur theme [/tmp/x] [bold]!", "Fruit skewers, no peanuts.", "Lyon; you are a night nurse."]  # fmt: skip
    model = tmp_path / "model.json"
    model.write_text(ReplayChatCompletionClient(replies).dump_component().model_dump_json())
    monkeypatch.setenv("OMNE_MODEL_COMPONENT", str(model))
    demo_dir = tmp_path / "demo"
    _previous_demo(demo_dir)  # reset at start: its stale memory is gone

    result = CliRunner().invoke(app, ["demo", "--data-dir", str(demo_dir)])
    out = result.output
    assert result.exit_code == 0, out + repr(result.exception)
    assert "stale memory" not in out and (demo_dir / MARKER).is_file()

    assert "reflection derived 2 L1 record(s)" in out
    assert "L0 (raw turns): 6" in out and "L1 (derived): 3" in out  # 3 turns x (user + reply); 2 facts + summary
    l0_ids = dict(re.findall(r"  ([0-9a-f]{8}) message  user: (My daughter Lea|Please remember)", out))
    lea_id = next(k for k, v in l0_ids.items() if v == "My daughter Lea")
    fact_block = out.split("Sam's daughter Lea loves dinosaurs.")[1].splitlines()[1]
    assert f"sources: {lea_id}" in fact_block  # the L1 fact cites the L0 turn it came from

    # session 2: the theme question retrieved the dinosaur memory first, and the answer is shown
    theme = out.split("What theme would she like?")[1]
    first_hit = theme.split("best first):")[1].strip().splitlines()[0]
    assert "dinosaurs" in first_hit
    assert "omne> A dinosaur theme [/tmp/x] [bold]!" in out  # a reply is text, not markup
    # the snack question: the allergy fact brings the turn it came from into the prompt, and the demo says so
    snack = out.split("sam> Can you suggest a snack")[1].split("sam> Which city")[0]
    fact_and_source = snack.split("Sam is allergic to peanuts.")[1].splitlines()[1]
    assert "with its source" in fact_and_source and "Please remember that I am allergic to peanuts." in fact_and_source
    assert "Point Omne at a real model" in out and "OMNE_MODELS__MAIN__PROVIDER" in out
