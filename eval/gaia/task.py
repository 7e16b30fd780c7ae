"""The GAIA task models: a task as the dataset holds it, and the view an agent factory gets."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HIDDEN_ANSWER = "?"
PLACEHOLDER_TASK_ID = "0-0-0-0-0"


class GaiaSplit(StrEnum):
    VALIDATION = "validation"
    TEST = "test"


class AttachmentStatus(StrEnum):
    """Whether a task's attachment can be read."""

    NONE = "none"  # the task has no attachment
    PRESENT = "present"
    MISSING = "missing"  # named, but absent from the split folder
    LFS_POINTER = "lfs_pointer"  # a Git LFS pointer stands where the file should be (never downloaded)


class GaiaTask(BaseModel):
    """One row of a GAIA `metadata.jsonl`, with its attachment resolved to a path."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    question: str
    level: int
    final_answer: str | None = None  # None when hidden (the test split's "?")
    file_name: str = ""
    attachment_path: Path | None = None  # None without an attachment, or when it cannot be read
    attachment_status: AttachmentStatus = AttachmentStatus.NONE
    annotator_metadata: dict[str, Any] = Field(default_factory=dict)
    split: GaiaSplit = GaiaSplit.VALIDATION

    @property
    def scorable(self) -> bool:
        return self.final_answer is not None

    def for_agent(self) -> GaiaAgentTask:
        """The view an agent may see: everything but the ground truth and the annotator's solution."""
        return GaiaAgentTask(
            task_id=self.task_id,
            question=self.question,
            level=self.level,
            file_name=self.file_name,
            attachment_path=self.attachment_path,
            attachment_status=self.attachment_status,
        )


class GaiaAgentTask(BaseModel):
    """What an agent factory receives: the question and its attachment, never the answer."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    question: str
    level: int
    file_name: str = ""
    attachment_path: Path | None = None
    attachment_status: AttachmentStatus = AttachmentStatus.NONE

    @property
    def file_roots(self) -> list[Path]:
        """What a file reader may read for this task: its attachment alone, never the folder around it
        (that folder holds `metadata.jsonl`, every task's answer, and the other tasks' files)."""
        return [self.attachment_path] if self.attachment_path is not None else []


class GaiaDataset(BaseModel):
    """Tasks after filtering, with what the loader skipped and why."""

    root: Path
    split: GaiaSplit
    tasks: list[GaiaTask]
    placeholders_skipped: int = 0
    missing_attachments: list[str] = Field(default_factory=list)  # task ids whose file is absent
    lfs_pointer_attachments: list[str] = Field(default_factory=list)  # task ids whose file is a Git LFS pointer

    @property
    def hidden_answers(self) -> int:
        return sum(1 for t in self.tasks if not t.scorable)

    def by_id(self) -> dict[str, GaiaTask]:
        return {t.task_id: t for t in self.tasks}
