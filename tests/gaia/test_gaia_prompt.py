"""The task message an agent receives, and final-answer extraction from its reply."""

from __future__ import annotations

from pathlib import Path

import pytest

from omne_eval.gaia import GAIA_SYSTEM_PROMPT, GaiaAgentTask, build_task_message, extract_final_answer
from omne_eval.gaia.prompt import fallback_answer


def test_task_message_has_the_gaia_prompt_question_and_attachment(tmp_path: Path) -> None:
    path = tmp_path / "sales.xlsx"
    message = build_task_message(GaiaAgentTask(task_id="t", question="Total?", level=1, file_name="sales.xlsx",
                                               attachment_path=path))  # fmt: skip
    assert message.startswith(GAIA_SYSTEM_PROMPT)
    assert "FINAL ANSWER: [YOUR FINAL ANSWER]" in message
    assert "Question: Total?" in message and f"Attached file: {path}" in message


def test_task_message_says_when_the_attachment_is_missing() -> None:
    message = build_task_message(GaiaAgentTask(task_id="t", question="Q?", level=1, file_name="gone.pdf"))
    assert "Attached file:" not in message and "(gone.pdf) that is not available" in message
    assert "attached" not in build_task_message(GaiaAgentTask(task_id="t", question="Q?", level=1)).lower()


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ("I think so.\nFINAL ANSWER: 42", "42"),
        ("FINAL ANSWER: 41\nWait, recount.\nFINAL ANSWER: 42", "42"),  # the last marker wins
        ("**FINAL ANSWER:** Paris", "Paris"),
        ("Final answer: red, yellow, blue", "red, yellow, blue"),
        ("FINAL ANSWER:\n\n  seagull  \nThanks!", "seagull"),
        ("FINAL ANSWER: [42]", "42"),  # the template's brackets copied literally
        ("FINAL ANSWER: `3.14`", "3.14"),
        ("FINAL ANSWER:", ""),
        ("The answer is 42.", None),
        ("", None),
        (None, None),
    ],
)
def test_extract_final_answer(reply: str | None, answer: str | None) -> None:
    assert extract_final_answer(reply) == answer


def test_fallback_answer_takes_only_a_short_last_line() -> None:
    assert fallback_answer("Reykjavik") == "Reykjavik"
    assert fallback_answer("thinking...\n**42**") == "42"
    assert fallback_answer("x" * 300) is None
    assert fallback_answer("  \n ") is None
