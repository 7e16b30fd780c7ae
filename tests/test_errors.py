"""The one error tree: every public error class of Omne derives from `OmneError`, through one branch."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from omne_core.errors import (
    ConfigurationError,
    DocumentError,
    ModelError,
    OmneError,
    StorageError,
    StoreNotOpenError,
    ToolError,
)

PACKAGES = ["omne_core", "omne_tools", "omne_assistant", "omne_eval"]
BRANCHES = (ConfigurationError, StorageError, DocumentError, ModelError, ToolError)
# Modules that need an optional extra or start heavy work on import are skipped if they fail to import.
OPTIONAL = {"omne_core.models.llamacpp"}


def _public_error_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if info.name.endswith(".__main__") or info.name.endswith(".worker"):
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError:
                if info.name in OPTIONAL:
                    continue
                raise
            for name, value in vars(module).items():
                if (
                    isinstance(value, type)
                    and issubclass(value, Exception)
                    and not name.startswith("_")
                    and value.__module__.split(".")[0] in PACKAGES
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_every_public_error_is_an_omne_error_in_one_branch():
    classes = _public_error_classes()
    assert len(classes) > 40  # the walk saw the layers' errors
    strays = [name for name, cls in classes.items() if not issubclass(cls, OmneError)]
    assert strays == []
    rootless = [name for name, cls in classes.items() if cls is not OmneError and not issubclass(cls, BRANCHES)
                and not name.startswith("omne_eval.")]  # fmt: skip
    assert rootless == []


def test_existing_names_keep_their_old_bases():
    """Re-parenting added the branch; code that caught the old base still catches the error."""
    from omne_core.blobs import BlobNotFoundError
    from omne_core.embeddings import EmbeddingError
    from omne_core.memory import MemoryNotFoundError, MemoryStoreError, MemoryValidationError
    from omne_core.models import ModelConfigurationError, ModelUnavailableError
    from omne_tools import SearchError

    assert issubclass(MemoryNotFoundError, KeyError) and issubclass(MemoryValidationError, ValueError)
    assert issubclass(MemoryStoreError, StorageError) and issubclass(BlobNotFoundError, StorageError | KeyError)
    assert issubclass(ModelConfigurationError, ConfigurationError) and issubclass(ModelConfigurationError, ModelError)
    assert issubclass(ModelConfigurationError, ValueError) and issubclass(ModelUnavailableError, RuntimeError)
    assert issubclass(EmbeddingError, ModelError) and issubclass(EmbeddingError, RuntimeError)
    assert issubclass(StoreNotOpenError, RuntimeError) and issubclass(SearchError, ToolError)


def test_document_error_keeps_its_path_across_pickling():
    import pickle

    from omne_core.documents import FileTooLargeError

    error = pickle.loads(pickle.dumps(FileTooLargeError("too big", "a/b.pdf")))
    assert isinstance(error, DocumentError) and error.path == "a/b.pdf" and str(error) == "too big (a/b.pdf)"


def test_tool_errors_carry_the_text_the_agent_reads():
    from omne_tools import LogicExpertError, PathNotAllowedError, SearchError

    assert PathNotAllowedError("Refused: outside").agent_text() == "Error: Refused: outside"
    assert SearchError("the query is empty.").agent_text() == "Search error: the query is empty."
    assert LogicExpertError("no answer").agent_text() == "Logic expert error: no answer"


async def test_a_store_used_before_open_or_after_close_raises_store_not_open(tmp_path):
    from omne_core.config import OmneSettings
    from omne_core.memory import MemoryScope, MemoryStore

    class NoEmbedder:
        name, dimension = "none", 3

        def embed(self, texts):  # pragma: no cover - never called
            raise AssertionError("not used")

    store = MemoryStore(OmneSettings(data_dir=tmp_path), embedder=NoEmbedder())  # type: ignore[arg-type]
    with pytest.raises(StoreNotOpenError, match="not open"):
        await store.get("m1")
    with pytest.raises(StoreNotOpenError):
        await store.list(MemoryScope(user_id="u"))
