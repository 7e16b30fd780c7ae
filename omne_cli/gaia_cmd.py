"""`omne gaia run | score | report`: evaluate an agent on GAIA, score answers, and report a run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import typer

from .display import echo, shown

app = typer.Typer(help="Run, score and report GAIA evaluations.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {shown(message)}", err=True, fg=typer.colors.RED)  # task ids and paths are data
    return typer.Exit(2)


def _split(value: str) -> str:
    """--split, checked before anything is read."""
    from omne_eval.gaia import GaiaSplit

    if value not in {s.value for s in GaiaSplit}:
        raise typer.BadParameter(f"{value!r} is not a GAIA split: use {' or '.join(s.value for s in GaiaSplit)}")
    return value


def _positive(value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise typer.BadParameter(f"must be more than 0, got {value:g}")
    return value


def _out_dir(value: Path | None) -> Path | None:
    """--out names a folder Omne can write (or make): a file or an unwritable place is refused up front."""
    if value is None:
        return None
    if value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} is a file; --out names a folder")
    existing = next(p for p in (value.absolute(), *value.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise typer.BadParameter(f"{existing} is a file, so {value} cannot be made")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot write in {existing} (permission denied)")
    return value


def _default_out(split: str, model: str) -> Path:
    return Path("gaia-runs") / f"{split}-{re.sub(r'[^A-Za-z0-9._-]+', '_', model)}"


def _print_summary(summary, lenient: bool) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    from .display import terminal

    table = Table(title="GAIA results")
    for column in ("level", "tasks", "scored", "correct", "accuracy", *(["lenient"] if lenient else []), "errors", "cost"):
        table.add_column(column, justify="right")
    for lv in [*summary.levels, summary.overall]:
        acc = "n/a" if lv.accuracy is None else f"{lv.accuracy:.1%}"
        row = [str(lv.level), str(lv.tasks), str(lv.scored), str(lv.correct), acc]
        if lenient:
            row.append("n/a" if lv.lenient_accuracy is None else f"{lv.lenient_accuracy:.1%}")
        row += [str(lv.errors), lv.cost_text]
        table.add_row(*row)
    console = terminal()
    console.print(table)
    console.print(
        f"tokens {summary.prompt_tokens:,} prompt + {summary.completion_tokens:,} completion · "
        f"mean {summary.seconds_mean:.1f} s/task · outcomes {summary.error_classes}"
    )


@app.command("run")
def run(
    data: Path | None = typer.Option(
        None, "--data", help="Local GAIA directory (the 2023 layout). Without it, the gated HF dataset is downloaded."
    ),
    split: str = typer.Option("validation", "--split", callback=_split, help="validation or test."),
    level: list[int] | None = typer.Option(None, "--level", min=1, max=3, help="Only these levels, 1 to 3 (repeatable)."),
    task_id: list[str] | None = typer.Option(None, "--task-id", help="Only these task ids (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many tasks (after the other filters)."),
    agent: str | None = typer.Option(
        None, "--agent", help="Agent factory as module:function; default: the Omne Reactive Responder."
    ),
    out: Path | None = typer.Option(
        None, "--out", callback=_out_dir, help="Run directory (default gaia-runs/<split>-<model>); reruns resume."
    ),
    concurrency: int = typer.Option(4, "--concurrency", "-j", min=1, help="Tasks run at once."),
    time_limit: float = typer.Option(600.0, "--time-limit", callback=_positive, help="Seconds per task."),
    max_steps: int = typer.Option(60, "--max-steps", min=1, help="Messages/events per task."),
    max_tokens: int = typer.Option(500_000, "--max-tokens", min=1, help="Tokens per task."),
    model: str | None = typer.Option(None, "--model", help="Model name for pricing (default: models.main.model)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Run again the tasks recorded with an error."),
    follow_up: bool = typer.Option(True, "--follow-up/--no-follow-up", help="Ask once for FINAL ANSWER if missing."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.md and report.html at the end."),
    lenient: bool = typer.Option(False, "--lenient", help="Also show the lenient (non-official) accuracy."),
) -> None:
    """Run an agent on GAIA tasks, writing results.jsonl (resumable) and submission.jsonl."""
    import asyncio

    from omne_core.config import load_settings
    from omne_eval.gaia import (
        DEFAULT_AGENT_FACTORY,
        GaiaError,
        GaiaRunConfig,
        GaiaRunner,
        GaiaSplit,
        RunLimits,
        download_gaia,
        load_agent_factory,
        load_gaia_dataset,
        summarize,
        write_report,
    )

    try:
        gaia_split = GaiaSplit(split)
    except ValueError:
        raise _fail(f"--split must be validation or test, got {split!r}") from None
    settings = load_settings()
    try:
        root = data if data is not None else download_gaia(settings, gaia_split)
        dataset = load_gaia_dataset(root, gaia_split, levels=level, task_ids=task_id, limit=limit)
        factory_name = agent or DEFAULT_AGENT_FACTORY
        factory = load_agent_factory(factory_name, search_dir=Path.cwd())
    except GaiaError as exc:
        raise _fail(str(exc)) from exc
    model_name = model or settings.models.main.model
    out_dir = out or _default_out(gaia_split.value, model_name)
    echo(
        f"{len(dataset.tasks)} task(s) from {dataset.root} ({dataset.placeholders_skipped} placeholder row(s) skipped, "
        f"{dataset.hidden_answers} with a hidden answer) -> {out_dir}"
    )
    if dataset.missing_attachments:
        echo(f"warning: attachment missing for {', '.join(dataset.missing_attachments)}", err=True)
    if dataset.lfs_pointer_attachments:
        echo(
            f"warning: {len(dataset.lfs_pointer_attachments)} attachment(s) are Git LFS pointers, not the files "
            f"(run `git lfs pull` in the dataset's repository): {', '.join(dataset.lfs_pointer_attachments)}",
            err=True,
        )
    config = GaiaRunConfig(
        output_dir=out_dir,
        concurrency=concurrency,
        limits=RunLimits(time_limit_s=time_limit, max_steps=max_steps, max_tokens=max_tokens, follow_up=follow_up),
        model=model_name,
        retry_errors=retry_errors,
        agent=factory_name,
    )
    runner = GaiaRunner(factory, settings, config, show_progress=progress)
    try:
        outcome = asyncio.run(runner.run(dataset.tasks))
    except GaiaError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"ran {len(outcome.ran)} task(s), {outcome.resumed} already done")
    _print_summary(summarize(outcome.results), lenient)
    echo(f"results: {runner.results_path}\nsubmission: {runner.submission_path}")
    if report:
        files = write_report(outcome.results, out_dir, lenient=lenient)
        echo(f"report: {files.markdown} {files.html}")


def _is_results_file(path: Path) -> bool:
    """True when the first record of `path` carries a ground truth (a results.jsonl, not a submission)."""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    return "ground_truth" in json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return False
    return False


@app.command("score")
def score(
    answers: Path = typer.Argument(..., help="submission.jsonl or results.jsonl."),
    data: Path | None = typer.Option(None, "--data", help="GAIA directory with the ground truth (needed for a submission)."),
    split: str = typer.Option("validation", "--split", callback=_split, help="validation or test."),
    lenient: bool = typer.Option(False, "--lenient", help="Also show the lenient (non-official) accuracy."),
    answered_only: bool = typer.Option(
        False, "--answered-only", help="Score only the tasks the submission answers (default: the others score wrong)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score answers with the official GAIA rules (against --data, or the ground truth in results.jsonl)."""
    from omne_eval.gaia import (
        GaiaError,
        grade_answers,
        load_gaia_dataset,
        read_answers,
        read_results,
        rescore,
        summarize,
    )

    try:
        if data is not None:
            dataset = load_gaia_dataset(data, split)
            graded = grade_answers(read_answers(answers), dataset.tasks, answered_only=answered_only)
            results = graded.results
            if graded.unknown_task_ids:
                typer.secho(f"warning: {len(graded.unknown_task_ids)} answer(s) for unknown task ids", err=True)
            missing = len(graded.unanswered_task_ids)
            if missing and answered_only:
                typer.secho(f"note: {missing} task(s) without an answer left out (--answered-only)", err=True)
            elif missing:
                typer.secho(f"warning: {missing} task(s) without an answer (scored wrong; --answered-only leaves them out)", err=True)
        else:
            if not answers.is_file():
                raise _fail(f"no such file: {answers}")
            if not _is_results_file(answers):
                raise _fail(f"{answers} is not a results.jsonl with ground truth; score a submission with --data DIR")
            results = rescore(read_results(answers).values())
    except GaiaError as exc:
        raise _fail(str(exc)) from exc
    summary = summarize(results)
    if not summary.overall.scored:
        raise _fail("no answer has a ground truth to score against (test split answers are hidden)")
    if as_json:
        typer.echo(json.dumps(summary.model_dump(mode="json") | {"accuracy": summary.overall.accuracy}, indent=2))
        return
    _print_summary(summary, lenient)


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., help="A run directory (or its results.jsonl)."),
    out: Path | None = typer.Option(
        None, "--out", callback=_out_dir, help="Where to write the report (default: the run directory)."
    ),
    lenient: bool = typer.Option(False, "--lenient", help="Show the lenient (non-official) accuracy beside it."),
    title: str = typer.Option("GAIA run report", "--title"),
) -> None:
    """Write report.md (charts beside it) and a self-contained report.html for a run."""
    from omne_eval.gaia import read_results, rescore, write_report

    path = run_dir / "results.jsonl" if run_dir.is_dir() else run_dir
    if not path.is_file():
        raise _fail(f"no results file at {path}")
    results = rescore(read_results(path).values())
    if not results:
        raise _fail(f"{path} holds no results")
    files = write_report(results, out or path.parent, lenient=lenient, title=title)
    echo(f"{files.markdown}\n{files.html}")
    for chart in files.charts:
        echo(chart)
