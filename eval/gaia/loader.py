"""Load GAIA tasks from a local copy of the 2023 layout, or fetch the gated dataset from the Hub.

Layout: `<root>/2023/<split>/metadata.jsonl` (or `.parquet`) with `task_id`, `Question`, `Level`,
`Final answer`, `file_name`, `Annotator Metadata`, and each attachment beside the metadata file.
`root` may also be the `2023/` directory or a split directory itself.

A "?" answer means the ground truth is hidden (the test split): such tasks run but are not scored.
The placeholder row (task id `0-0-0-0-0`, answer "?", kept in the files for the dataset viewer) and
rows without a question are skipped and counted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GaiaAccessDeniedError, GaiaDatasetError, GaiaHubUnreachableError, GaiaTokenMissingError
from .jsonl import read_objects
from .task import HIDDEN_ANSWER, PLACEHOLDER_TASK_ID, AttachmentStatus, GaiaDataset, GaiaSplit, GaiaTask

if TYPE_CHECKING:
    from omne_core.config import OmneSettings

GAIA_REPO_ID = "gaia-benchmark/GAIA"
GAIA_CONFIG = "2023"
_METADATA_FILES = ("metadata.jsonl", "metadata.parquet")
_REQUIRED_KEYS = ("task_id", "Question", "Level")


def find_split_dir(root: Path, split: GaiaSplit) -> Path:
    """The directory holding `split`'s metadata under `root` (the dataset root, `2023/`, or the split)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GaiaDatasetError(f"GAIA data directory not found: {root}")
    for candidate in (root / GAIA_CONFIG / split.value, root / split.value, root):
        if any((candidate / name).is_file() for name in _METADATA_FILES):
            return candidate
    raise GaiaDatasetError(
        f"No GAIA metadata for split '{split.value}' under {root}: expected "
        f"{root / GAIA_CONFIG / split.value / 'metadata.jsonl'} (or metadata.jsonl directly in {root})."
    )


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return read_objects(path, GaiaDatasetError)


def _read_parquet(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise GaiaDatasetError(
            f"{path} is a parquet file and pyarrow is not installed: `pip install pyarrow`, "
            "or provide metadata.jsonl."
        ) from exc
    yield from enumerate(pq.read_table(path).to_pylist(), start=1)


def _read_rows(split_dir: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    jsonl, parquet = split_dir / _METADATA_FILES[0], split_dir / _METADATA_FILES[1]
    if jsonl.is_file():
        for lineno, row in _read_jsonl(jsonl):
            yield f"{jsonl}:{lineno}", row
    else:
        for index, row in _read_parquet(parquet):
            yield f"{parquet}:row {index}", row


def _attachment(split_dir: Path, file_name: str) -> tuple[Path | None, AttachmentStatus]:
    """The attachment's absolute path (None when absent, outside the split directory, or a Git LFS pointer)."""
    from omne_core.documents.detect import read_lfs_pointer

    if not file_name:
        return None, AttachmentStatus.NONE
    base = split_dir.resolve()
    path = (base / file_name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None, AttachmentStatus.MISSING
    if read_lfs_pointer(path) is not None:
        return None, AttachmentStatus.LFS_POINTER
    return path, AttachmentStatus.PRESENT


def _parse_row(where: str, row: dict[str, Any], split_dir: Path, split: GaiaSplit) -> GaiaTask | None:
    missing = [key for key in _REQUIRED_KEYS if key not in row]
    if missing:
        raise GaiaDatasetError(f"{where}: missing field(s) {', '.join(missing)}")
    task_id = str(row["task_id"]).strip()
    question = str(row["Question"] or "").strip()
    answer = row.get("Final answer")
    answer = None if answer is None else str(answer)
    if task_id == PLACEHOLDER_TASK_ID or not question:
        return None
    try:
        level = int(str(row["Level"]).strip())
    except ValueError as exc:
        raise GaiaDatasetError(f"{where}: Level must be 1, 2 or 3, got {row['Level']!r}") from exc
    metadata = row.get("Annotator Metadata") or {}
    file_name = str(row.get("file_name") or "").strip()
    attachment, status = _attachment(split_dir, file_name)
    return GaiaTask(
        task_id=task_id,
        question=question,
        level=level,
        final_answer=None if answer is None or answer.strip() == HIDDEN_ANSWER else answer,
        file_name=file_name,
        attachment_path=attachment,
        attachment_status=status,
        annotator_metadata=metadata if isinstance(metadata, dict) else {"raw": metadata},
        split=split,
    )


def _check_split(split_dir: Path, split: GaiaSplit, *, tasks: int, public_answers: int) -> None:
    """Refuse a folder that holds the other split: the test split hides every answer, validation none."""
    if split is GaiaSplit.TEST and public_answers:
        raise GaiaDatasetError(
            f"{split_dir} holds public answers ({public_answers} of {tasks} tasks): it is not GAIA's test split, "
            "whose answers are hidden. Use --split validation for it, or point --data at the test split."
        )
    if split is GaiaSplit.VALIDATION and tasks and not public_answers:
        raise GaiaDatasetError(
            f"every answer in {split_dir} is hidden: it looks like GAIA's test split, not validation; "
            "use --split test for it, or point --data at the validation split."
        )


def load_gaia_dataset(
    root: str | Path,
    split: GaiaSplit | str = GaiaSplit.VALIDATION,
    *,
    levels: Iterable[int] | None = None,
    task_ids: Iterable[str] | None = None,
    limit: int | None = None,
) -> GaiaDataset:
    """Read a local GAIA split and apply the level, task-id and limit filters (in that order)."""
    split = GaiaSplit(split)
    split_dir = find_split_dir(Path(root), split)
    wanted_levels = set(levels) if levels else None
    wanted_ids = set(task_ids) if task_ids else None
    tasks: list[GaiaTask] = []
    placeholders = public_answers = 0
    seen: set[str] = set()
    for where, row in _read_rows(split_dir):
        task = _parse_row(where, row, split_dir, split)
        if task is None:
            placeholders += 1
            continue
        if task.task_id in seen:
            raise GaiaDatasetError(f"{where}: duplicate task_id {task.task_id}")
        seen.add(task.task_id)
        public_answers += task.scorable
        if wanted_levels is not None and task.level not in wanted_levels:
            continue
        if wanted_ids is not None and task.task_id not in wanted_ids:
            continue
        tasks.append(task)
    _check_split(split_dir, split, tasks=len(seen), public_answers=public_answers)
    if wanted_ids is not None:
        unknown = wanted_ids - seen
        if unknown:
            raise GaiaDatasetError(f"unknown task id(s) in {split_dir}: {', '.join(sorted(unknown))}")
    if limit is not None:
        tasks = tasks[: max(limit, 0)]
    return GaiaDataset(
        root=split_dir,
        split=split,
        tasks=tasks,
        placeholders_skipped=placeholders,
        missing_attachments=[t.task_id for t in tasks if t.attachment_status is AttachmentStatus.MISSING],
        lfs_pointer_attachments=[t.task_id for t in tasks if t.attachment_status is AttachmentStatus.LFS_POINTER],
    )


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's base error (huggingface_hub 1.x+ uses httpx2 or httpx)."""
    errors: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            errors.append(__import__(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def download_gaia(
    settings: OmneSettings,
    split: GaiaSplit | str = GaiaSplit.VALIDATION,
    *,
    local_dir: str | Path | None = None,
    endpoint: str | None = None,
) -> Path:
    """Fetch one split of the gated `gaia-benchmark/GAIA` dataset; returns the local dataset root.

    Needs `settings.hf_token` (HF_TOKEN / OMNE_HF_TOKEN) for an account that accepted the dataset's
    conditions. A copy already downloaded to `local_dir` is reused when the Hub cannot be reached.
    """
    split = GaiaSplit(split)
    if settings.hf_token is None or not settings.hf_token.get_secret_value().strip():
        raise GaiaTokenMissingError(
            f"GAIA ({GAIA_REPO_ID}) is a gated dataset and no Hugging Face token is configured. Accept its "
            f"conditions at https://huggingface.co/datasets/{GAIA_REPO_ID}, create a read token, and set "
            "HF_TOKEN (or OMNE_HF_TOKEN, or hf_token in omne.toml) — or pass --data DIR with a local copy."
        )
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    unreachable: tuple[type[BaseException], ...] = (OSError, *_transport_errors())  # LocalEntryNotFoundError and connection failures
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    target = Path(local_dir) if local_dir else settings.data_dir / "datasets" / "gaia"
    try:
        snapshot_download(
            GAIA_REPO_ID,
            repo_type="dataset",
            token=settings.hf_token.get_secret_value(),
            allow_patterns=[f"{GAIA_CONFIG}/{split.value}/*"],
            local_dir=target,
            endpoint=endpoint,
            etag_timeout=settings.web.request_timeout_s,
        )
    except (GatedRepoError, RepositoryNotFoundError) as exc:
        raise GaiaAccessDeniedError(
            f"The Hub refused {GAIA_REPO_ID}: accept the dataset's conditions at "
            f"https://huggingface.co/datasets/{GAIA_REPO_ID} with the account of your token, "
            f"and check the token is valid ({type(exc).__name__})."
        ) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise GaiaAccessDeniedError(f"The Hub refused the token for {GAIA_REPO_ID} (HTTP {status}).") from exc
        raise GaiaHubUnreachableError(f"The Hub at {endpoint} answered with an error: {exc}") from exc
    except unreachable as exc:
        if constants.is_offline_mode():
            raise GaiaHubUnreachableError(
                f"HF_HUB_OFFLINE is set and no downloaded copy is in {target}: unset HF_HUB_OFFLINE to "
                "download GAIA, or pass --data DIR with a local copy."
            ) from exc
        raise GaiaHubUnreachableError(
            f"Cannot reach the Hugging Face Hub at {endpoint} to download {GAIA_REPO_ID} and no copy is "
            f"in {target}: check the network (or HF_ENDPOINT), or pass --data DIR with a local copy."
        ) from exc
    return target
