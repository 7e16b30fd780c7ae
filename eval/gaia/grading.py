"""Score answers made elsewhere (a submission file, or an earlier results file) against a dataset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import BaseModel

from .results import ErrorClass, GaiaResult
from .scorer import lenient_question_scorer, question_scorer
from .task import GaiaTask


class GradedAnswers(BaseModel):
    """Graded results, plus the answers that matched no task and the tasks that had no answer."""

    results: list[GaiaResult]
    unknown_task_ids: list[str]
    unanswered_task_ids: list[str]


def _outcome(task_id: str, answers: Mapping[str, str | None]) -> tuple[ErrorClass | None, str | None]:
    """Why a task has no answer to score, if it has none: no line at all, or an empty one."""
    if task_id not in answers:
        return ErrorClass.UNANSWERED, "no answer in the submission"
    answer = answers[task_id]
    if answer is None or not answer.strip():
        return ErrorClass.NO_ANSWER, "an empty answer in the submission"
    return None, None


def grade_answers(
    answers: Mapping[str, str | None], tasks: Iterable[GaiaTask], *, answered_only: bool = False
) -> GradedAnswers:
    """One result per task; a task without an answer scores False (as on the leaderboard) and its outcome
    says so (`unanswered`, `no_answer`), never "ok". `answered_only` scores only the tasks that have a line."""
    tasks = list(tasks)
    known = {t.task_id for t in tasks}
    unanswered = [t.task_id for t in tasks if t.task_id not in answers]
    results = []
    for task in tasks:
        if answered_only and task.task_id not in answers:
            continue
        answer = answers.get(task.task_id)
        truth = task.final_answer
        error_class, error = _outcome(task.task_id, answers)
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
                error=error,
                error_class=error_class,
            )
        )
    return GradedAnswers(
        results=results,
        unknown_task_ids=sorted(set(answers) - known),
        unanswered_task_ids=unanswered,
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
