"""The custom-agent example runs offline and shows team-shared versus private memory."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_custom_agent_example_shares_team_memory_and_keeps_private_notes(capsys):
    spec = importlib.util.spec_from_file_location("custom_agent_example", EXAMPLES / "custom_agent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await module.main()
    lines = capsys.readouterr().out.splitlines()
    answers = [line.split("->", 1)[1].strip() for line in lines if "->" in line]
    assert answers[2].startswith("critic: I remember: the launch date is May 3")  # team memory, written by planner
    assert "the budget is tight" in answers[3]  # the critic's own private note
    assert answers[4].startswith("planner:") and "budget is tight" not in answers[4]  # never another's private note
    assert "critic private:  ['the budget is tight']" in lines and "planner private: []" in lines
