"""The GAIA system prompt, the task message an agent receives, and the short-reply fallback answer.

The `FINAL ANSWER:` extraction is omne_core's (`omne_core.models.extract_final_answer`), shared with the
Reactive Responder, so the harness and the agent read an answer the same way.
"""

from __future__ import annotations

from omne_core.models.output import ANSWER_WRAPPERS, FINAL_ANSWER_MARKER, extract_final_answer

from .task import AttachmentStatus, GaiaAgentTask

__all__ = [
    "FINAL_ANSWER_MARKER",
    "FOLLOW_UP_PROMPT",
    "GAIA_SYSTEM_PROMPT",
    "build_task_message",
    "extract_final_answer",
    "fallback_answer",
]

# The system prompt of the GAIA paper (Mialon et al., 2023), used by the official leaderboard.
GAIA_SYSTEM_PROMPT = (
    "You are a general AI assistant. I will ask you a question. Report your thoughts, and finish your "
    "answer with the following template: FINAL ANSWER: [YOUR FINAL ANSWER]. YOUR FINAL ANSWER should be "
    "a number OR as few words as possible OR a comma separated list of numbers and/or strings. If you are "
    "asked for a number, don't use comma to write your number neither use units such as $ or percent sign "
    "unless specified otherwise. If you are asked for a string, don't use articles, neither abbreviations "
    "(e.g. for cities), and write the digits in plain text unless specified otherwise. If you are asked for "
    "a comma separated list, apply the above rules depending of whether the element to be put in the list "
    "is a number or a string."
)

FOLLOW_UP_PROMPT = (
    "Your reply did not end with the required template. Based on your work so far, reply with one line "
    "only, exactly: FINAL ANSWER: [YOUR FINAL ANSWER] — following the formatting rules you were given."
)


def build_task_message(task: GaiaAgentTask, system_prompt: str = GAIA_SYSTEM_PROMPT) -> str:
    """The user message of a task: the GAIA instructions, the question, and where its attachment is."""
    parts = [system_prompt, "", f"Question: {task.question}"]
    if task.attachment_path is not None:
        parts += [
            "",
            f"Attached file: {task.attachment_path}",
            "Read it with the file reader tool (this file is the one local file you may read).",
        ]
    elif task.attachment_status is AttachmentStatus.LFS_POINTER:
        parts += ["", f"The question mentions an attached file ({task.file_name}) that is not available: only a "
                  "Git LFS pointer to it was downloaded, not the file."]  # fmt: skip
    elif task.file_name:
        parts += ["", f"The question mentions an attached file ({task.file_name}) that is not available."]
    return "\n".join(parts)


def fallback_answer(text: str | None, max_chars: int = 200) -> str | None:
    """The last non-empty line of a reply without the template, when it is short enough to be an answer."""
    if not text:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or len(lines[-1]) > max_chars:
        return None
    return lines[-1].strip(ANSWER_WRAPPERS).strip() or None
