"""The task message an agent receives, and the answer read from its reply."""

from __future__ import annotations

from pathlib import Path

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


def test_the_harness_reads_answers_as_the_agents_do() -> None:
    """One extraction for the harness and the Reactive Responder (cases: tests/foundation/test_model_output.py)."""
    from omne_core.models import extract_final_answer as shared

    assert extract_final_answer is shared
    assert extract_final_answer("I think so.\n**Final answer:** [42]\nThanks!") == "42"


def test_fallback_answer_takes_only_a_short_last_line() -> None:
    assert fallback_answer("Reykjavik") == "Reykjavik"
    assert fallback_answer("thinking...\n**42**") == "42"
    assert fallback_answer("x" * 300) is None
    assert fallback_answer("  \n ") is None
