"""`RemoteMemoryStore`: `MemoryStore`'s async API over HTTP, a client of `omne serve`.

It satisfies `MemoryStoreAPI`, so `OmneMemory`, the responders, reflection and the CLI run against a server
unchanged. Each call is one request with a timeout; a refused connection and answers 429/503 are retried
with exponential backoff (honouring `Retry-After`) — safe, since the server did not act on them, and an add
resent after a lost answer is deduplicated by its record id. Errors come back typed, from the problem
document's stable `code`: `MemoryNotFoundError`, `MemoryValidationError`, `MemoryImportError`,
`ReflectionError`, `MemoryAuthError`, `MemoryPermissionError`, `MemoryServiceUnavailableError`.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from ..config import OmneSettings, load_settings
from ..config.settings import redact_url
from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from .errors import (
    MemoryAuthError,
    MemoryImportError,
    MemoryNotFoundError,
    MemoryPermissionError,
    MemoryServerError,
    MemoryServiceUnavailableError,
    MemoryValidationError,
    ReflectionError,
)
from .filters import ScopeArg, normalize_scopes
from .metadata_filter import MetadataFilter, normalize_metadata
from .results import (
    ImportResult,
    MemoryChange,
    MemoryStats,
    RecordLinks,
    ReflectionResult,
    SearchHit,
    UserSummary,
)
from .store_config import ServerStoreConfig
from .validation import check_id, check_list_limit
from .wire import (
    API_PREFIX,
    JSONL_MEDIA_TYPE,
    MAX_PAGE,
    AddMemoriesResponse,
    BlobRef,
    DeleteManyResponse,
    ForgetUserResponse,
    HistoryResponse,
    ProblemCode,
    RecordPage,
    SearchResponse,
    UsersResponse,
)

if TYPE_CHECKING:
    from .ingest import IngestReport

_UNSET: Any = object()
_RETRY_STATUSES = {429, 503}
_MAX_BACKOFF_S = 10.0
_CHUNK = 1 << 16


def _path_id(value: str) -> str:
    return quote(value, safe="")


def _scope_json(scope: ScopeArg) -> Any:
    scopes = normalize_scopes(scope)
    return [s.model_dump(mode="json") for s in scopes]


def _kinds(kinds: Sequence[MemoryKind | str] | None) -> list[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str | MemoryKind):
        kinds = [kinds]
    return [MemoryKind(k).value if isinstance(k, MemoryKind) else str(k) for k in kinds]


def _time(value: datetime | None) -> str | None:
    if value is not None and not isinstance(value, datetime):
        raise MemoryValidationError(f"expected a datetime, got {type(value).__name__}")
    return value.isoformat() if value is not None else None


def _metadata(metadata: MetadataFilter | None) -> dict[str, Any]:
    """The `metadata` field of a request, checked here as the store checks it (a bad condition fails before any
    request); none without conditions, so a server older than metadata filters still answers."""
    normalize_metadata(metadata)
    return {"metadata": dict(metadata)} if metadata is not None else {}


def _records(records: Any) -> list[MemoryRecord]:
    items = [records] if isinstance(records, MemoryRecord) else records
    if not isinstance(items, list | tuple) or not all(isinstance(r, MemoryRecord) for r in items):
        raise MemoryValidationError("expected a MemoryRecord or a list of them")
    return list(items)


class RemoteBlobs:
    """The server's blob store for this key's tenant (images and files that records reference)."""

    def __init__(self, store: RemoteMemoryStore) -> None:
        self._store = store

    async def aput_bytes(self, data: bytes) -> str:
        response = await self._store._request("POST", "/blobs", content=data,
                                              headers={"content-type": "application/octet-stream"})  # fmt: skip
        return BlobRef.model_validate(response.json()).ref

    async def aget_bytes(self, ref: str) -> bytes:
        from ..blobs import BlobNotFoundError

        try:
            return (await self._store._request("GET", f"/blobs/{_path_id(ref)}")).content
        except MemoryServerError as exc:
            if exc.code == ProblemCode.NOT_FOUND:
                raise BlobNotFoundError(ref) from None
            raise


class RemoteMemoryStore:
    """Omne memory on an `omne serve` server. Open with `await RemoteMemoryStore.open(url, key=...)`, or let
    `open_store()` pick it when `OMNE_SERVER__URL` is set."""

    def __init__(
        self,
        url: str,
        *,
        key: str | SecretStr | None = None,
        timeout_s: float = 60.0,
        retries: int = 4,
        backoff_s: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise MemoryValidationError(f"the server URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.page_size = MAX_PAGE  # records per list request
        token = key.get_secret_value() if isinstance(key, SecretStr) else key
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client: httpx.AsyncClient | None = httpx.AsyncClient(
            base_url=self.url + API_PREFIX, headers=headers, timeout=timeout_s, transport=transport
        )
        self.blobs = RemoteBlobs(self)

    @classmethod
    async def open(cls, url: str, *, key: str | SecretStr | None = None, **options: Any) -> RemoteMemoryStore:
        """A client of the server at `url`, checked with `/healthz` (a clear error now if it is down)."""
        store = cls(url, key=key, **options)
        try:
            await store.health()
        except BaseException:
            await store.close()
            raise
        return store

    @classmethod
    async def from_settings(cls, settings: OmneSettings | None = None) -> RemoteMemoryStore:
        """The server `OMNE_SERVER__URL` names, with `OMNE_SERVER__KEY`."""
        server = (settings or load_settings()).server
        if not server.url:
            raise MemoryValidationError("no server configured: set OMNE_SERVER__URL (and OMNE_SERVER__KEY)")
        return await cls.open(server.url, key=server.key, timeout_s=server.client_timeout_s, retries=server.client_retries)

    @classmethod
    async def from_config(cls, config: ServerStoreConfig, settings: OmneSettings | None = None) -> RemoteMemoryStore:
        """The server a dumped config names; the key (a secret, never dumped) comes from `OMNE_SERVER__KEY`."""
        key = (settings or load_settings()).server.key
        return await cls.open(config.url, key=key, timeout_s=config.timeout_s, retries=config.retries)

    async def __aenter__(self) -> RemoteMemoryStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open_config(self) -> ServerStoreConfig:
        """What opens this same store again (the key is left out: it comes from the environment)."""
        return ServerStoreConfig(url=self.url, timeout_s=self.timeout_s, retries=self.retries)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def __repr__(self) -> str:
        return f"RemoteMemoryStore({redact_url(self.url)!r})"

    # -- transport -----------------------------------------------------------------------------
    async def _request(self, method: str, path: str, *, record_id: str | None = None, **kwargs: Any) -> httpx.Response:
        """One call with retries; a problem answer raised as its typed error (`record_id` names a 404's record)."""
        response = await self._send(method, path, stream=False, **kwargs)
        if response.is_error:
            raise _problem_error(response, record_id)
        return response

    async def _send(self, method: str, path: str, *, stream: bool, **kwargs: Any) -> httpx.Response:
        if self._client is None:
            raise MemoryServerError("the remote memory store is closed")
        where = redact_url(self.url)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                request = self._client.build_request(method, path, **kwargs)
                response = await self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if last:
                    raise MemoryServiceUnavailableError(
                        f"the Omne server at {where} is not reachable ({type(exc).__name__}): is `omne serve` running?"
                    ) from None
                await asyncio.sleep(self._backoff(attempt, None))
                continue
            except httpx.TimeoutException as exc:
                raise MemoryServiceUnavailableError(
                    f"the Omne server at {where} did not answer within {self.timeout_s:g} s ({type(exc).__name__})"
                ) from None
            except httpx.TransportError as exc:
                raise MemoryServiceUnavailableError(f"the connection to the Omne server at {where} failed: {exc}") from None
            if response.status_code in _RETRY_STATUSES and not last:
                await response.aclose()
                await asyncio.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                continue
            if stream and response.is_error:
                await response.aread()
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = self.backoff_s * 2.0**attempt
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        return min(delay, _MAX_BACKOFF_S)

    async def health(self) -> dict[str, Any]:
        """The server's `/healthz` answer; raises `MemoryServiceUnavailableError` when it is down."""
        response = await self._request("GET", self.url + "/healthz")
        health: dict[str, Any] = response.json()
        return health

    # -- add -----------------------------------------------------------------------------------
    async def add(self, records: MemoryRecord | Sequence[MemoryRecord], *, actor: str = "user") -> builtins.list[MemoryRecord]:
        """Store one record or a batch; an exact duplicate in the same scope returns the existing record."""
        body = {"records": [r.model_dump(mode="json") for r in _records(records)], "actor": actor}
        return AddMemoriesResponse.model_validate((await self._request("POST", "/memories", json=body)).json()).records

    async def add_superseding(
        self, items: Sequence[tuple[MemoryRecord, Sequence[str]]], *, actor: str = "user"
    ) -> builtins.list[tuple[MemoryRecord, builtins.list[str]]]:
        """Add records, each superseding the ids it replaces, in one transaction on the server (all or nothing)."""
        if not isinstance(items, list | tuple) or not all(isinstance(i, tuple) and len(i) == 2 for i in items):
            raise MemoryValidationError("items must be a list of (MemoryRecord, [ids it supersedes]) pairs")
        body = {
            "records": [r.model_dump(mode="json") for r in _records([record for record, _ in items])],
            "supersedes": [list(ids) for _, ids in items],
            "actor": actor,
        }
        result = AddMemoriesResponse.model_validate((await self._request("POST", "/memories", json=body)).json())
        return list(zip(result.records, result.superseded, strict=True))

    # -- read ----------------------------------------------------------------------------------
    async def get(self, record_id: str, scope: ScopeArg | None = None) -> MemoryRecord:
        """The record with this id; with `scope`, only if it lies in that scope. Raises MemoryNotFoundError."""
        check_id(record_id)
        response = await self._request("GET", f"/memories/{_path_id(record_id)}", record_id=record_id)
        record = MemoryRecord.model_validate(response.json())
        if scope is not None and not any(s.contains(record.scope) for s in normalize_scopes(scope)):
            raise MemoryNotFoundError(record_id)
        return record

    async def resolve(self, id_or_prefix: str, scope: ScopeArg, *, candidates: int = 5) -> MemoryRecord:
        """The scope's record with this id, else the only one whose id starts with it (`MemoryStore.resolve`)."""
        check_id(id_or_prefix)
        body = {"id": id_or_prefix, "scope": _scope_json(scope), "candidates": candidates}
        response = await self._request("POST", "/memories/resolve", json=body, record_id=id_or_prefix)
        return MemoryRecord.model_validate(response.json())

    async def list(
        self,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
        include_inactive: bool = False,
        oldest_first: bool = False,
        statuses: Sequence[MemoryStatus | str] | None = None,
        after: str | None = None,
        metadata: MetadataFilter | None = None,
    ) -> builtins.list[MemoryRecord]:
        """Records of the scope(s), newest first; fetched in keyset pages of `page_size` (at most 1000)."""
        check_list_limit(limit)
        if after is not None:
            check_id(after)
        base = {
            "scope": _scope_json(scope), "kinds": _kinds(kinds), "since": _time(since), "until": _time(until),
            "include_inactive": include_inactive, "oldest_first": oldest_first,
            "statuses": [MemoryStatus(s).value for s in statuses] if statuses is not None else None,
            **_metadata(metadata),
        }  # fmt: skip
        out: builtins.list[MemoryRecord] = []
        while limit is None or len(out) < limit:
            page_size = self.page_size if limit is None else min(self.page_size, limit - len(out))
            body = {**base, "limit": page_size, "after": after}
            page = RecordPage.model_validate((await self._request("POST", "/memories/list", json=body, record_id=after)).json())
            out.extend(page.records)
            if page.next_after is None:
                break
            after = page.next_after
        return out

    async def search(
        self,
        query: str,
        scope: ScopeArg,
        *,
        kinds: Sequence[MemoryKind | str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
        include_inactive: bool = False,
        min_similarity: float | None = None,
        metadata: MetadataFilter | None = None,
    ) -> builtins.list[SearchHit]:
        """Hybrid search on the server: dense + BM25; scope, kind, time, status and metadata values are hard
        filters."""
        if not isinstance(query, str) or not query.strip():
            raise MemoryValidationError("query must be a non-empty string")
        body = {
            "query": query, "scope": _scope_json(scope), "kinds": _kinds(kinds), "since": _time(since),
            "until": _time(until), "limit": limit, "include_inactive": include_inactive, "min_similarity": min_similarity,
            **_metadata(metadata),
        }  # fmt: skip
        return SearchResponse.model_validate((await self._request("POST", "/memories/search", json=body)).json()).hits

    async def links(self, record_id: str, scope: ScopeArg | None = None) -> RecordLinks:
        """A record's provenance both ways and its supersession neighbours."""
        check_id(record_id)
        if scope is not None:
            await self.get(record_id, scope)  # another scope's record is not found, as in the store
        response = await self._request("GET", f"/memories/{_path_id(record_id)}/links", record_id=record_id)
        return RecordLinks.model_validate(response.json())

    async def users(self) -> builtins.list[UserSummary]:
        """Every user of this key's tenant, with record counts by kind and status."""
        return UsersResponse.model_validate((await self._request("GET", "/users")).json()).users

    async def history(self, record_id: str) -> builtins.list[MemoryChange]:
        check_id(record_id)
        response = await self._request("GET", f"/memories/{_path_id(record_id)}/history", record_id=record_id)
        return HistoryResponse.model_validate(response.json()).changes

    async def stats(self, scope: ScopeArg) -> MemoryStats:
        response = await self._request("POST", "/stats", json={"scope": _scope_json(scope)})
        return MemoryStats.model_validate(response.json())

    # -- change --------------------------------------------------------------------------------
    async def update(
        self,
        record_id: str,
        *,
        text: str | None = None,
        payload: dict[str, Any] | None = _UNSET,
        importance: float | None = None,
        confidence: float | None = None,
        metadata: dict[str, Any] | None = None,
        event_time: datetime | None = _UNSET,
        source_ids: Sequence[str] | None = None,
        actor: str = "user",
    ) -> MemoryRecord:
        """A new version of the record (version + 1); the previous one stays in the history."""
        check_id(record_id)
        body: dict[str, Any] = {"actor": actor}
        for name, value in (("text", text), ("importance", importance), ("confidence", confidence),
                            ("metadata", metadata)):  # fmt: skip
            if value is not None:
                body[name] = value
        if source_ids is not None:
            body["source_ids"] = list(source_ids)
        if payload is not _UNSET:
            body["payload"] = payload
        if event_time is not _UNSET:
            body["event_time"] = _time(event_time)
        response = await self._request("PATCH", f"/memories/{_path_id(record_id)}", json=body, record_id=record_id)
        return MemoryRecord.model_validate(response.json())

    async def supersede(self, old_id: str, new_id: str, *, actor: str = "user") -> MemoryRecord:
        check_id(old_id)
        check_id(new_id)
        response = await self._request(
            "POST", f"/memories/{_path_id(old_id)}/supersede", json={"by": new_id, "actor": actor}, record_id=old_id
        )
        return MemoryRecord.model_validate(response.json())

    async def delete(self, record_id: str, *, hard: bool = False, actor: str = "user") -> None:
        check_id(record_id)
        await self._request("DELETE", f"/memories/{_path_id(record_id)}", params={"hard": str(hard).lower(), "actor": actor},
                            record_id=record_id)  # fmt: skip

    async def delete_many(self, record_ids: Sequence[str], *, hard: bool = False, actor: str = "user") -> int:
        if isinstance(record_ids, str) or not isinstance(record_ids, Sequence):
            raise MemoryValidationError(f"record_ids must be a list of ids, got {type(record_ids).__name__}")
        ids = list(dict.fromkeys(check_id(rid) for rid in record_ids))
        deleted = 0
        for start in range(0, len(ids), 10_000):
            body = {"ids": ids[start : start + 10_000], "hard": hard, "actor": actor}
            deleted += DeleteManyResponse.model_validate((await self._request("POST", "/memories/delete", json=body)).json()).deleted
        return deleted

    async def forget_user(self, user_id: str, *, actor: str = "user") -> int:
        if not isinstance(user_id, str) or not user_id.strip():
            raise MemoryValidationError("user_id must be a non-empty string")
        response = await self._request("DELETE", f"/users/{_path_id(user_id)}", params={"actor": actor})
        return ForgetUserResponse.model_validate(response.json()).removed

    # -- export / import -----------------------------------------------------------------------
    async def export_jsonl(self, path: str | Path, scope: ScopeArg, *, actor: str | None = None) -> int:
        """Stream the scope's export into `path` (written whole or not at all); returns the record count. The server
        logs every export in the tenant's activity, under `actor` (default `user`) and the key's id."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        params = {"actor": actor} if actor is not None else None
        response = await self._send("POST", "/export", stream=True, params=params, json={"scope": _scope_json(scope)})
        if response.is_error:
            raise _problem_error(response, None)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".export-")
        count = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in response.aiter_bytes(_CHUNK):
                    fh.write(chunk)
                    count += chunk.count(b"\n")
            os.replace(tmp, path)
        except BaseException:
            await asyncio.to_thread(Path(tmp).unlink, missing_ok=True)
            raise
        finally:
            await response.aclose()
        return count

    async def import_jsonl(self, path: str | Path, *, actor: str = "import") -> ImportResult:
        """Import an export file on the server (streamed); a corrupt file is rejected whole."""
        path = Path(path)
        if not path.is_file():
            raise MemoryValidationError(f"import file not found: {path}")
        try:
            response = await self._request("POST", "/import", params={"actor": actor}, content=_file_chunks(path),
                                           headers={"content-type": JSONL_MEDIA_TYPE})  # fmt: skip
        except MemoryImportError as exc:
            raise MemoryImportError(str(path), exc.line, exc.reason) from None
        return ImportResult.model_validate(response.json())

    # -- on the server -------------------------------------------------------------------------
    async def reflect(self, scope: MemoryScope, *, limit: int = 50) -> ReflectionResult:
        """`reflect()` run by the server with its own model (503 `MemoryServiceUnavailableError` if it has none)."""
        body = {"scope": scope.model_dump(mode="json"), "limit": limit}
        return ReflectionResult.model_validate((await self._request("POST", "/reflect", json=body)).json())

    async def summarize_session(self, scope: MemoryScope, *, max_input_tokens: int = 6000) -> MemoryRecord:
        body = {"scope": scope.model_dump(mode="json"), "max_input_tokens": max_input_tokens}
        return MemoryRecord.model_validate((await self._request("POST", "/summarize", json=body)).json())

    async def ingest(
        self,
        paths: Sequence[str | Path],
        scope: MemoryScope,
        *,
        chunk_tokens: int | None = None,
        overlap_tokens: int | None = None,
        keep_files: bool = True,
    ) -> IngestReport:
        """Upload files for the server to convert, chunk and store as `document_chunk` records of `scope`; each is
        known by its path here, so new bytes at a path ingested before supersede its old chunks."""
        from .ingest import IngestReport

        files = [Path(p) for p in paths]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise MemoryValidationError(f"not a file: {', '.join(missing)}")
        options = {"chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens, "keep_files": str(keep_files).lower()}
        form: dict[str, Any] = {k: v for k, v in {**scope.model_dump(), **options}.items() if v is not None}
        form["sources"] = [str(p.resolve()) for p in files]  # a document is known by its path, as in a local ingest
        handles = [p.open("rb") for p in files]
        try:
            uploads = [("files", (p.name, fh)) for p, fh in zip(files, handles, strict=True)]
            response = await self._request("POST", "/ingest", files=uploads, data=form)
        finally:
            for fh in handles:
                fh.close()
        return IngestReport.model_validate(response.json())


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, _CHUNK):
            yield chunk


_IMPORT_LINE = re.compile(r"^line (\d+): (.*)$", re.DOTALL)


def _problem_error(response: httpx.Response, record_id: str | None) -> Exception:
    """The typed error for a problem answer (any other error body: a `MemoryServerError` with the status)."""
    status = response.status_code
    try:
        body = response.json()
        code, detail = body.get("code"), body.get("detail") or body.get("title")
        record_id = body.get("record_id") or record_id
    except (ValueError, AttributeError):
        code, detail = None, None
    detail = str(detail or f"HTTP {status} {response.reason_phrase}")
    if code == ProblemCode.NOT_FOUND:  # a record (the server names it) or another resource (a blob, a route)
        return MemoryNotFoundError(record_id) if record_id is not None else MemoryServerError(detail, status=status, code=code)
    if code == ProblemCode.IMPORT_ERROR:
        match = _IMPORT_LINE.match(detail)
        return MemoryImportError("(upload)", int(match.group(1)) if match else 0, match.group(2) if match else detail)
    if code in (ProblemCode.VALIDATION_ERROR, ProblemCode.INVALID_REQUEST, ProblemCode.PAYLOAD_TOO_LARGE):
        return MemoryValidationError(detail)
    if code == ProblemCode.REFLECTION_FAILED:
        return ReflectionError(detail)
    if code == ProblemCode.UNAUTHORIZED:
        return MemoryAuthError(detail, status=status, code=code)
    if code == ProblemCode.READ_ONLY_KEY:
        return MemoryPermissionError(detail, status=status, code=code)
    if status in (502, 503, 504) or code in (ProblemCode.UNAVAILABLE, ProblemCode.OVERLOADED, ProblemCode.TIMEOUT,
                                            ProblemCode.MODEL_NOT_CONFIGURED):  # fmt: skip
        return MemoryServiceUnavailableError(detail, status=status, code=code)
    return MemoryServerError(detail, status=status, code=code)
