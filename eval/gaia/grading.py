"""Score answers made elsewhere (a submission file, or an earlier results file) against a dataset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from .results import GaiaResult
from .scorer import lenient_question_scorer, question_scorer
from .task import GaiaTask


class GradedAnswers(BaseModel):
    """Graded results, plus the answers that matched no task and the tasks that had no answer."""

    results: list[GaiaResult]
    unknown_task_ids: list[str]
    unanswered_task_ids: list[str]


def grade_answers(answers: Mapping[str, str | None], tasks: Iterable[GaiaTask]) -> GradedAnswers:
    """One result per task; a task without an answer scores False (as on the leaderboard)."""
    tasks = list(tasks)
    known = {t.task_id for t in tasks}
    results = []
    for task in tasks:
        answer = answers.get(task.task_id)
        truth = task.final_answer
        results.append(
            GaiaResult(
                task_id=task.task_id,
                level=task.level,
                question=task.question,
                file_name=task.file_name,
                model_answer=answer,
                ground_truth=truth,
                correct=None if truth is None else question_scorer(answer, truth),
                lenient_correct=None if truth is None else lenient_question_scorer(answer, truth),
            )
        )
    return GradedAnswers(
        results=results,
        unknown_task_ids=sorted(set(answers) - known),
        unanswered_task_ids=[t.task_id for t in tasks if t.task_id not in answers],
    )


def rescore(results: Iterable[GaiaResult]) -> list[GaiaResult]:
    """The same results scored again with the current scorer (their recorded ground truth)."""
    return [
        r.model_copy(
            update={
                "correct": None if r.ground_truth is None else question_scorer(r.model_answer, r.ground_truth),
                "lenient_correct": None
                if r.ground_truth is None
                else lenient_question_scorer(r.model_answer, r.ground_truth),
            }
        )
        for r in results
    ]
