"""The loader on a real GAIA-format directory, and the Hub download's failure messages."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from omne_core.config import load_settings
from omne_eval.gaia import (
    GaiaAccessDeniedError,
    GaiaDatasetError,
    GaiaHubUnreachableError,
    GaiaTokenMissingError,
    download_gaia,
    load_gaia_dataset,
)
from tests.support.servers import free_port

from .gaia_fixture import TEST_TASKS, VALIDATION_TASKS, write_gaia_fixture


def test_loads_every_validation_task_with_its_attachment(gaia_root: Path) -> None:
    ds = load_gaia_dataset(gaia_root, "validation")
    assert [t.task_id for t in ds.tasks] == [t.task_id for t in VALIDATION_TASKS]
    by_id = ds.by_id()
    assert by_id["v-l1-xlsx"].attachment_path == (gaia_root / "2023/validation/sales.xlsx").resolve()
    assert by_id["v-l1-xlsx"].attachment_path.is_file()
    assert by_id["v-l1-plain"].attachment_path is None
    assert {t.level for t in ds.tasks} == {1, 2, 3}
    assert by_id["v-l2-list"].final_answer == "red, yellow, blue"
    assert by_id["v-l1-plain"].annotator_metadata["Number of steps"] == "1"
    assert ds.placeholders_skipped == 0 and ds.hidden_answers == 0 and ds.missing_attachments == []


def test_agent_view_hides_the_answer(gaia_root: Path) -> None:
    task = load_gaia_dataset(gaia_root, "validation").by_id()["v-l2-pdf"]
    view = task.for_agent()
    assert "final_answer" not in view.model_dump() and "annotator_metadata" not in view.model_dump()
    assert view.file_roots == [view.attachment_path]  # the file alone, not the folder with metadata.jsonl


def test_test_split_skips_and_counts_the_placeholder_and_keeps_hidden_answers(gaia_root: Path) -> None:
    ds = load_gaia_dataset(gaia_root, "test")
    assert ds.placeholders_skipped == 1
    assert [t.task_id for t in ds.tasks] == [t.task_id for t in TEST_TASKS]
    assert all(t.final_answer is None and not t.scorable for t in ds.tasks)
    assert ds.hidden_answers == len(TEST_TASKS)


def test_filters_level_task_id_and_limit(gaia_root: Path) -> None:
    assert {t.level for t in load_gaia_dataset(gaia_root, levels=[2]).tasks} == {2}
    assert len(load_gaia_dataset(gaia_root, levels=[1, 3]).tasks) == 5
    picked = load_gaia_dataset(gaia_root, task_ids=["v-l2-png", "v-l1-bird"]).tasks
    assert [t.task_id for t in picked] == ["v-l1-bird", "v-l2-png"]  # dataset order
    assert [t.task_id for t in load_gaia_dataset(gaia_root, limit=3).tasks] == ["v-l1-plain", "v-l1-xlsx", "v-l1-bird"]
    assert [t.task_id for t in load_gaia_dataset(gaia_root, levels=[2], limit=1).tasks] == ["v-l2-pdf"]


def test_unknown_task_id_is_an_error(gaia_root: Path) -> None:
    with pytest.raises(GaiaDatasetError, match="unknown task id"):
        load_gaia_dataset(gaia_root, task_ids=["nope"])


@pytest.mark.parametrize("sub", ["", "2023", "2023/validation"])
def test_root_may_be_the_dataset_the_config_or_the_split_dir(gaia_root: Path, sub: str) -> None:
    assert len(load_gaia_dataset(gaia_root / sub, "validation").tasks) == len(VALIDATION_TASKS)


def test_missing_directory_and_missing_metadata(tmp_path: Path) -> None:
    with pytest.raises(GaiaDatasetError, match="not found"):
        load_gaia_dataset(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GaiaDatasetError, match="No GAIA metadata"):
        load_gaia_dataset(tmp_path / "empty")


def _split_dir(tmp_path: Path, lines: list[str]) -> Path:
    d = tmp_path / "2023" / "validation"
    d.mkdir(parents=True)
    (d / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    ok = json.dumps({"task_id": "a", "Question": "q", "Level": 1, "Final answer": "1", "file_name": ""})
    root = _split_dir(tmp_path, [ok, "{not json"])
    with pytest.raises(GaiaDatasetError, match=r"metadata.jsonl:2: not valid JSON"):
        load_gaia_dataset(root)


def test_missing_fields_and_bad_level(tmp_path: Path) -> None:
    root = _split_dir(tmp_path / "a", [json.dumps({"task_id": "a", "Level": 1})])
    with pytest.raises(GaiaDatasetError, match="missing field"):
        load_gaia_dataset(root)
    root = _split_dir(tmp_path / "b", [json.dumps({"task_id": "a", "Question": "q", "Level": "x"})])
    with pytest.raises(GaiaDatasetError, match="Level"):
        load_gaia_dataset(root)


def test_duplicate_task_id_is_an_error(tmp_path: Path) -> None:
    row = json.dumps({"task_id": "a", "Question": "q", "Level": 1, "Final answer": "1", "file_name": ""})
    with pytest.raises(GaiaDatasetError, match="duplicate"):
        load_gaia_dataset(_split_dir(tmp_path, [row, row]))


def test_attachment_outside_the_split_dir_or_absent_is_reported_missing(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("x")
    rows = [
        json.dumps({"task_id": "esc", "Question": "q", "Level": 1, "Final answer": "1", "file_name": "../../secret.txt"}),
        json.dumps({"task_id": "gone", "Question": "q", "Level": 1, "Final answer": "1", "file_name": "gone.pdf"}),
    ]
    ds = load_gaia_dataset(_split_dir(tmp_path, rows))
    assert all(t.attachment_path is None for t in ds.tasks)
    assert ds.missing_attachments == ["esc", "gone"]


# -- the Hub ------------------------------------------------------------------------------------------


def test_download_without_token_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(GaiaTokenMissingError, match="HF_TOKEN"):
        download_gaia(load_settings(), "validation", local_dir=tmp_path / "dl")


@pytest.fixture
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs with HF_HUB_OFFLINE=1; these tests talk to 127.0.0.1 only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_unreachable_hub_fails_fast_with_a_clear_message(tmp_path: Path, monkeypatch, hub_online) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    settings = load_settings(hf_token="hf_test_token")
    started = time.monotonic()
    with pytest.raises(GaiaHubUnreachableError, match=r"Cannot reach the Hugging Face Hub at http://127\.0\.0\.1"):
        download_gaia(settings, "validation", local_dir=tmp_path / "dl")
    assert time.monotonic() - started < 10


def test_offline_mode_is_named_in_the_message(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(GaiaHubUnreachableError, match="HF_HUB_OFFLINE"):
        download_gaia(load_settings(hf_token="hf_test_token"), "validation", local_dir=tmp_path / "dl")


class _GatedHub(BaseHTTPRequestHandler):
    """Answers every call like the Hub does for a gated repo the token may not read."""

    def _deny(self) -> None:
        body = b'{"error": "Access to dataset gaia-benchmark/GAIA is restricted."}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Error-Code", "GatedRepo")
        self.send_header("X-Error-Message", "Access to dataset gaia-benchmark/GAIA is restricted.")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_HEAD = _deny

    def log_message(self, *args: object) -> None:
        pass


def test_gated_refusal_says_to_accept_the_conditions(tmp_path: Path, monkeypatch, hub_online) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _GatedHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        with pytest.raises(GaiaAccessDeniedError, match="accept the dataset's conditions"):
            download_gaia(load_settings(hf_token="hf_test_token"), "validation", local_dir=tmp_path / "dl")
    finally:
        server.shutdown()
        server.server_close()


def _hub_serving(src: Path, token: str, requests: list[str]) -> type[BaseHTTPRequestHandler]:
    """A local stand-in for the Hub's dataset API: revision info, the file tree, and `resolve` downloads."""
    files = {p.relative_to(src).as_posix(): p for p in src.rglob("*") if p.is_file()}
    sha = "a" * 40

    class Hub(BaseHTTPRequestHandler):
        def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(code)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj: object, code: int = 200) -> None:
            self._send(code, json.dumps(obj).encode(), {"Content-Type": "application/json"})

        def _route(self) -> None:
            path = self.path.split("?")[0]
            if self.headers.get("authorization") != f"Bearer {token}":
                return self._json({"error": "unauthorized"}, 401)
            requests.append(path)
            api = "/api/datasets/gaia-benchmark/GAIA"
            if path.startswith(f"{api}/revision/"):
                return self._json({"id": "gaia-benchmark/GAIA", "sha": sha, "siblings": [{"rfilename": f} for f in files]})
            if path.startswith(f"{api}/tree/"):
                return self._json([{"type": "file", "path": f, "size": p.stat().st_size,
                                    "oid": hashlib.sha1(p.read_bytes()).hexdigest()} for f, p in files.items()])  # fmt: skip
            resolve = f"/datasets/gaia-benchmark/GAIA/resolve/{sha}/"
            if path.startswith(resolve) and path[len(resolve) :] in files:
                data = files[path[len(resolve) :]].read_bytes()
                return self._send(200, data, {"ETag": f'"{hashlib.sha1(data).hexdigest()}"', "X-Repo-Commit": sha})
            return self._json({"error": f"no route {path}"}, 404)

        do_GET = do_HEAD = _route

        def log_message(self, *args: object) -> None:
            pass

    return Hub


def test_download_fetches_only_the_split_and_reuses_it_when_the_hub_is_gone(
    tmp_path: Path, monkeypatch, hub_online
) -> None:
    src = write_gaia_fixture(tmp_path / "hub-files")
    requests: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _hub_serving(src, "hf_good", requests))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    settings = load_settings(hf_token="hf_good", data_dir=tmp_path / "data")
    try:
        root = download_gaia(settings, "validation")
    finally:
        server.shutdown()
        server.server_close()
    assert root == tmp_path / "data" / "datasets" / "gaia"
    downloads = {r.rsplit("/", 1)[-1] for r in requests if "/resolve/" in r}
    assert downloads == {"metadata.jsonl", "sales.xlsx", "report.pdf", "chart.png"}
    assert not (root / "2023" / "test").exists()  # only the split asked for
    ds = load_gaia_dataset(root, "validation")
    assert len(ds.tasks) == len(VALIDATION_TASKS) and ds.by_id()["v-l1-xlsx"].attachment_path.is_file()
    # The Hub is gone now: the downloaded copy is used as it is.
    assert download_gaia(settings, "validation") == root


@pytest.mark.parametrize("folder", ["2023/validation", "renamed-copy"])
def test_a_validation_folder_is_not_loaded_as_the_test_split(gaia_root: Path, folder: str) -> None:
    split_dir = gaia_root / "2023" / "validation"
    if folder != "2023/validation":
        split_dir = split_dir.rename(gaia_root / folder)
    with pytest.raises(GaiaDatasetError, match="not GAIA's test split"):
        load_gaia_dataset(split_dir, "test")
    assert len(load_gaia_dataset(split_dir, "validation").tasks) == len(VALIDATION_TASKS)


def test_a_test_folder_is_not_loaded_as_the_validation_split(gaia_root: Path) -> None:
    with pytest.raises(GaiaDatasetError, match="use --split test"):
        load_gaia_dataset(gaia_root / "2023" / "test", "validation")


def test_an_attachment_that_is_a_git_lfs_pointer_is_counted_and_unavailable(gaia_root: Path) -> None:
    from omne_eval.gaia import AttachmentStatus, build_task_message

    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'a' * 64}\nsize 5120\n"
    (gaia_root / "2023" / "validation" / "report.pdf").write_text(pointer)
    ds = load_gaia_dataset(gaia_root, "validation")
    task = ds.by_id()["v-l2-pdf"]
    assert ds.lfs_pointer_attachments == ["v-l2-pdf"] and ds.missing_attachments == []
    assert task.attachment_path is None and task.attachment_status is AttachmentStatus.LFS_POINTER
    message = build_task_message(task.for_agent())
    assert "not available: only a Git LFS pointer to it was downloaded" in message
    assert "Attached file:" not in message
    assert ds.by_id()["v-l1-xlsx"].attachment_status is AttachmentStatus.PRESENT
