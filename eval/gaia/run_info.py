"""`run.json`: what a run directory holds (agent, model, split, limits), so a rerun resumes only the same run."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .errors import GaiaRunMismatchError
from .factory import RunLimits
from .results import RESULTS_FILE, read_results

RUN_FILE = "run.json"


class RunInfo(BaseModel):
    """The identity of a run (agent, model, split) and how the latest invocation paced it."""

    agent: str
    model: str
    split: str | None = None
    concurrency: int = 1
    limits: RunLimits = RunLimits()
    tasks: int = 0

    def differences_from(self, other: RunInfo) -> list[str]:
        """What differs between the identities of the two runs (empty: the same run)."""
        return [
            f"{field} {getattr(other, field)!r} (this run: {getattr(self, field)!r})"
            for field in ("agent", "model", "split")
            if getattr(other, field) is not None and getattr(self, field) != getattr(other, field)
        ]


def _recorded(output_dir: Path) -> RunInfo | None:
    """The run an existing directory holds: its run.json, or for an older run without one, its results' model."""
    path = output_dir / RUN_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return RunInfo(**{k: v for k, v in data.items() if k in RunInfo.model_fields})
        except (OSError, ValueError, ValidationError, TypeError) as exc:
            raise GaiaRunMismatchError(f"{path} is unreadable ({exc}); use a new --out for this run.") from exc
    models = {r.model for r in read_results(output_dir / RESULTS_FILE).values() if r.model}
    if len(models) > 1:
        raise GaiaRunMismatchError(f"{output_dir} mixes results of models {sorted(models)}; use a new --out.")
    return RunInfo(agent="", model=models.pop()) if models else None


def claim_run_dir(output_dir: Path, info: RunInfo) -> None:
    """Write `run.json` for `info`, refusing a directory that holds a run of another agent, model or split."""
    recorded = _recorded(output_dir)
    if recorded is not None:
        if not recorded.agent:  # an older run recorded its model only
            recorded = recorded.model_copy(update={"agent": info.agent})
        differences = info.differences_from(recorded)
        if differences:
            raise GaiaRunMismatchError(
                f"{output_dir} holds another run: {'; '.join(differences)}. Its results are not relabelled: "
                "run into a new output directory (--out), or with the same agent, model and split to resume it."
            )
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / RUN_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(info.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
