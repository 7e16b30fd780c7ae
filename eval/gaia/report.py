"""Summaries and reports of a GAIA run: markdown and self-contained HTML with matplotlib charts.

The report is built once as a list of blocks (heading, text, table, chart) and rendered to both formats,
so the two never disagree.
"""

from __future__ import annotations

import base64
import html
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from .results import RESULTS_FILE, GaiaResult, read_results

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
CHART_DIR = "report_files"


class LevelSummary(BaseModel):
    level: int | str
    tasks: int = 0
    scored: int = 0
    correct: int = 0
    lenient_correct: int = 0
    errors: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0  # over the tasks with a known price
    unpriced: int = 0  # tasks whose model has no price

    @property
    def cost_text(self) -> str:
        """`$x.xxxx`, with `+?` when some tasks have no price, `n/a` when none has."""
        if self.tasks and self.unpriced == self.tasks:
            return "n/a"
        return f"${self.cost_usd:.4f}" + ("+?" if self.unpriced else "")

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None

    @property
    def lenient_accuracy(self) -> float | None:
        return self.lenient_correct / self.scored if self.scored else None


class RunSummary(BaseModel):
    """Accuracy (official and lenient), tokens, cost, time and error classes of a set of results."""

    overall: LevelSummary
    levels: list[LevelSummary]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unpriced_tasks: int = 0
    seconds_mean: float = 0.0
    seconds_median: float = 0.0
    seconds_p90: float = 0.0
    seconds_max: float = 0.0
    error_classes: dict[str, int] = Field(default_factory=dict)
    answer_sources: dict[str, int] = Field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _add(level: LevelSummary, r: GaiaResult) -> None:
    level.tasks += 1
    if r.correct is not None:
        level.scored += 1
        level.correct += int(r.correct)
        level.lenient_correct += int(bool(r.lenient_correct))
    level.errors += r.error_class is not None
    level.seconds += r.seconds
    level.cost_usd += r.cost_usd or 0.0
    level.unpriced += r.cost_usd is None


def summarize(results: Iterable[GaiaResult]) -> RunSummary:
    """Aggregate results overall and per level."""
    results = list(results)
    overall = LevelSummary(level="all")
    levels: dict[int, LevelSummary] = {}
    for r in results:
        _add(overall, r)
        _add(levels.setdefault(r.level, LevelSummary(level=r.level)), r)
    seconds = [r.seconds for r in results]
    return RunSummary(
        overall=overall,
        levels=[levels[k] for k in sorted(levels)],
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        unpriced_tasks=sum(1 for r in results if r.cost_usd is None),
        seconds_mean=statistics.fmean(seconds) if seconds else 0.0,
        seconds_median=statistics.median(seconds) if seconds else 0.0,
        seconds_p90=_percentile(seconds, 0.9),
        seconds_max=max(seconds, default=0.0),
        error_classes=dict(Counter(r.error_class.value if r.error_class else "ok" for r in results).most_common()),
        answer_sources=dict(Counter(r.answer_source.value for r in results).most_common()),
    )


# -- blocks ------------------------------------------------------------------------------------------


@dataclass
class _Heading:
    text: str
    level: int = 2


@dataclass
class _Text:
    text: str


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class _Chart:
    title: str
    path: Path


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _short(text: str | None, limit: int = 80) -> str:
    if text is None:
        return "—"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _level_rows(summary: RunSummary, lenient: bool) -> list[list[str]]:
    rows = []
    for lv in [*summary.levels, summary.overall]:
        row = [str(lv.level), str(lv.tasks), str(lv.scored), str(lv.correct), _pct(lv.accuracy)]
        if lenient:
            row.append(_pct(lv.lenient_accuracy))
        row += [str(lv.errors), lv.cost_text, f"{lv.seconds / lv.tasks if lv.tasks else 0:.1f}"]
        rows.append(row)
    return rows


def _charts(results: list[GaiaResult], summary: RunSummary, chart_dir: Path) -> list[_Chart]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chart_dir.mkdir(parents=True, exist_ok=True)
    charts: list[_Chart] = []

    def save(fig, name: str, title: str) -> None:  # type: ignore[no-untyped-def]
        path = chart_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        charts.append(_Chart(title, path))

    levels = [lv for lv in [*summary.levels, summary.overall] if lv.scored]
    if levels:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels = [f"Level {lv.level}" if lv.level != "all" else "All" for lv in levels]
        values = [100 * (lv.accuracy or 0.0) for lv in levels]
        bars = ax.bar(labels, values, color=["#4C72B0"] * (len(levels) - 1) + ["#DD8452"])
        for bar, lv in zip(bars, levels, strict=True):
            ax.annotate(f"{lv.correct}/{lv.scored}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=9)  # fmt: skip
        ax.set_ylim(0, 105)
        ax.set_ylabel("accuracy (%)")
        ax.set_title("Accuracy per level (official scorer)")
        save(fig, "accuracy_by_level.png", "Accuracy per level")

    def histogram(values: list[float], color: str, xlabel: str, title: str, name: str, caption: str) -> None:
        if not values:
            return
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=color)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("tasks")
        ax.set_title(title)
        save(fig, name, caption)

    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    histogram(costs, "#55A868", "cost per task (USD)", "Cost distribution", "cost_distribution.png", "Cost per task")
    seconds = [r.seconds for r in results]
    histogram(seconds, "#8172B2", "seconds per task", "Time distribution", "time_distribution.png", "Time per task")

    if summary.error_classes:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        names = list(summary.error_classes)
        ax.barh(names, [summary.error_classes[n] for n in names],
                color=["#55A868" if n == "ok" else "#C44E52" for n in names])  # fmt: skip
        ax.invert_yaxis()
        ax.set_xlabel("tasks")
        ax.set_title("Outcome classes")
        save(fig, "error_classes.png", "Error classes")
    return charts


def _blocks(results: list[GaiaResult], summary: RunSummary, charts: list[_Chart], lenient: bool, title: str) -> list:
    ov = summary.overall
    blocks: list = [_Heading(title, 1)]
    facts = [
        ["tasks", str(ov.tasks)],
        ["scored (ground truth known)", str(ov.scored)],
        ["correct (official scorer)", f"{ov.correct} ({_pct(ov.accuracy)})"],
    ]
    if lenient:
        facts.append(["correct (lenient view, not official)", f"{ov.lenient_correct} ({_pct(ov.lenient_accuracy)})"])
    facts += [
        ["tasks with an error", str(ov.errors)],
        ["tokens (prompt / completion)", f"{summary.prompt_tokens:,} / {summary.completion_tokens:,}"],
        ["cost", ov.cost_text + (f" ({summary.unpriced_tasks} task(s) without a price)" if summary.unpriced_tasks else "")],
        ["time per task (mean / median / p90 / max)",
         f"{summary.seconds_mean:.1f} / {summary.seconds_median:.1f} / {summary.seconds_p90:.1f} / {summary.seconds_max:.1f} s"],
    ]  # fmt: skip
    blocks += [_Heading("Summary"), _Table(["", "value"], facts)]
    header = ["level", "tasks", "scored", "correct", "accuracy"]
    if lenient:
        header.append("lenient")
    header += ["errors", "cost", "mean s"]
    blocks += [_Heading("Accuracy per level"), _Table(header, _level_rows(summary, lenient))]
    blocks += [_Heading("Charts"), *charts]
    blocks += [
        _Heading("Outcome classes"),
        _Table(["class", "tasks"], [[k, str(v)] for k, v in summary.error_classes.items()]),
        _Text("How answers were extracted: " + ", ".join(f"{k} {v}" for k, v in summary.answer_sources.items())),
    ]
    failed = [r for r in results if r.error_class is not None]
    if failed:
        blocks += [
            _Heading("Tasks with errors"),
            _Table(["task", "level", "class", "error"],
                   [[r.task_id, str(r.level), r.error_class.value if r.error_class else "", _short(r.error, 120)] for r in failed]),
        ]  # fmt: skip
    wrong = [r for r in results if r.correct is False]
    if wrong:
        blocks += [
            _Heading("Wrong answers"),
            _Table(["task", "level", "answer", "ground truth"],
                   [[r.task_id, str(r.level), _short(r.model_answer), _short(r.ground_truth)] for r in wrong]),
        ]  # fmt: skip
    return blocks


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~#])")


def _md_text(text: str) -> str:
    """Text as markdown shows it literally: markup characters backslash-escaped (answers and errors come from
    agents and files: a `<script>` or a `[link](javascript:...)` in them stays text), on one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def _markdown(blocks: list, base: Path) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            out.append("#" * b.level + " " + _md_text(b.text))
        elif isinstance(b, _Text):
            out.append(_md_text(b.text))
        elif isinstance(b, _Table):
            out.append("| " + " | ".join(_md_text(h) for h in b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            out += ["| " + " | ".join(_md_text(c) for c in row) + " |" for row in b.rows]
        elif isinstance(b, _Chart):
            out.append(f"![{_md_text(b.title)}]({b.path.relative_to(base).as_posix()})")
        out.append("")
    return "\n".join(out)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "th{background:#f3f3f3}img{max-width:100%;display:block;margin:.5em 0 1.5em}"
)


def _html(blocks: list, title: str) -> str:
    e = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if isinstance(b, _Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, _Text):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, _Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.header)
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, _Chart):
            data = base64.b64encode(b.path.read_bytes()).decode()
            out.append(f"<img alt='{e(b.title)}' src='data:image/png;base64,{data}'>")
    out.append("</body></html>")
    return "\n".join(out)


class ReportFiles(BaseModel):
    markdown: Path
    html: Path
    charts: list[Path]
    summary: RunSummary


def write_report(
    results: Iterable[GaiaResult] | Path,
    out_dir: Path,
    *,
    lenient: bool = False,
    title: str = "GAIA run report",
) -> ReportFiles:
    """Write `report.md` (charts beside it in `report_files/`) and a self-contained `report.html`."""
    if isinstance(results, Path):
        results = read_results(results / RESULTS_FILE if results.is_dir() else results).values()
    results = list(results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    charts = _charts(results, summary, out_dir / CHART_DIR)
    blocks = _blocks(results, summary, charts, lenient, title)
    md_path, html_path = out_dir / REPORT_MD, out_dir / REPORT_HTML
    md_path.write_text(_markdown(blocks, out_dir), encoding="utf-8")
    html_path.write_text(_html(blocks, title), encoding="utf-8")
    return ReportFiles(markdown=md_path, html=html_path, charts=[c.path for c in charts], summary=summary)
