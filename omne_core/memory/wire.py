"""The memory server's wire models: request and response bodies shared by `omne serve` and `RemoteMemoryStore`.

Records, hits, history entries, links, users and statistics travel as the library's own models
(`MemoryRecord`, `SearchHit`, `MemoryChange`, `RecordLinks`, `UserSummary`, `MemoryStats`, `ImportResult`);
this module adds the request envelopes and the problem document (RFC 9457) every error is answered with.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..records import MemoryKind, MemoryRecord, MemoryScope, MemoryStatus
from .metadata_filter import MetadataConditions
from .results import MemoryChange, SearchHit, UserSummary

API_PREFIX = "/v1"
PROBLEM_MEDIA_TYPE = "application/problem+json"
JSONL_MEDIA_TYPE = "application/x-ndjson"
MAX_PAGE = 1000

ScopeSpec = MemoryScope | list[MemoryScope]


class _Request(BaseModel):
    """Request bodies reject unknown fields, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ProblemCode(StrEnum):
    """Stable error codes: clients branch on these, never on the human-readable text."""

    INVALID_REQUEST = "invalid_request"  # malformed JSON, a missing or ill-typed field (422)
    VALIDATION_ERROR = "validation_error"  # the store rejected the input (422)
    IMPORT_ERROR = "import_error"  # a corrupt import file; nothing imported (422)
    NOT_FOUND = "not_found"  # no such record, blob or route for this tenant (404)
    UNAUTHORIZED = "unauthorized"  # no key, an unknown or a revoked key (401)
    READ_ONLY_KEY = "read_only_key"  # a read-only key asked to write (403)
    PAYLOAD_TOO_LARGE = "payload_too_large"  # over the request size limit (413)
    METHOD_NOT_ALLOWED = "method_not_allowed"  # (405)
    TIMEOUT = "timeout"  # the response did not start within the server's limit (504)
    OVERLOADED = "overloaded"  # too many requests in flight; retry after `Retry-After` (503)
    MODEL_NOT_CONFIGURED = "model_not_configured"  # reflect/summarize without a model (503)
    REFLECTION_FAILED = "reflection_failed"  # the model's output was unusable; nothing written (502)
    UNAVAILABLE = "unavailable"  # the store or a service it needs is down (503)
    INTERNAL_ERROR = "internal_error"  # a bug; details are in the server log only (500)


class FieldProblem(BaseModel):
    """One invalid field: where (`loc`, e.g. ["body", "records", 0, "kind"]), what and why."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An `application/problem+json` error document (RFC 9457) with Omne's stable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    code: ProblemCode
    detail: str | None = None
    errors: list[FieldProblem] | None = None  # per-field detail of a 422
    record_id: str | None = None  # the record a 404 `not_found` is about


# -- requests and responses ----------------------------------------------------------------------
class AddMemoriesRequest(_Request):
    """One record (`{"record": {...}}` or the record itself) or a batch (`{"records": [...]}`).

    `supersedes[i]` lists the ids record i replaces; the whole call is then one transaction.
    """

    records: list[MemoryRecord] = Field(min_length=1)
    supersedes: list[list[str]] | None = None
    actor: str = Field(default="user", max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _one_record(cls, data: Any) -> Any:
        if isinstance(data, dict) and "records" not in data:
            if "record" in data:
                data = {**data, "records": [data["record"]]}
                del data["record"]
            elif "text" in data or "kind" in data:  # a bare record
                data = {"records": [data]}
        return data

    @model_validator(mode="after")
    def _supersedes_matches(self) -> AddMemoriesRequest:
        if self.supersedes is not None and len(self.supersedes) != len(self.records):
            raise ValueError(f"supersedes has {len(self.supersedes)} entries for {len(self.records)} records")
        return self


class AddMemoriesResponse(BaseModel):
    """The stored record of each input (an existing one for a duplicate) and the ids each superseded."""

    records: list[MemoryRecord]
    superseded: list[list[str]]


class SearchRequest(_Request):
    query: str = Field(min_length=1)
    scope: ScopeSpec
    kinds: list[MemoryKind] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    include_inactive: bool = False
    min_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)  # keep hits at least this similar (cosine)
    metadata: MetadataConditions | None = None  # only records whose metadata holds these values


class SearchResponse(BaseModel):
    hits: list[SearchHit]


class ListRequest(_Request):
    scope: ScopeSpec
    kinds: list[MemoryKind] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    include_inactive: bool = False
    statuses: list[MemoryStatus] | None = None  # exactly these statuses (instead of include_inactive)
    oldest_first: bool = False
    after: str | None = Field(default=None, min_length=1)  # keyset paging: `next_after` of the previous page
    metadata: MetadataConditions | None = None  # only records whose metadata holds these values


class ResolveRequest(_Request):
    """A record id, or the start of one (the short ids people see), within a scope."""

    id: str = Field(min_length=1, max_length=200)
    scope: ScopeSpec
    candidates: int = Field(default=5, ge=1, le=50)  # at most this many ids named when the prefix is ambiguous


class RecordPage(BaseModel):
    records: list[MemoryRecord]
    next_after: str | None = None  # pass as `after` for the next page; None: this was the last page


class UsersResponse(BaseModel):
    users: list[UserSummary]


class ScopeRequest(_Request):
    """A scope (or several) for stats and export."""

    scope: ScopeSpec


class UpdateMemoryRequest(_Request):
    """The fields to change (a new version). `payload` and `event_time` may be set to null explicitly."""

    text: str | None = None
    payload: dict[str, Any] | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    metadata: dict[str, Any] | None = None
    event_time: datetime | None = None
    source_ids: list[str] | None = None
    actor: str = Field(default="user", max_length=200)

    def changes(self) -> dict[str, Any]:
        """Keyword arguments for `update()`: only the fields the request sent (null counts for payload/event_time)."""
        sent = self.model_fields_set - {"actor"}
        return {name: getattr(self, name) for name in sent}


class SupersedeRequest(_Request):
    by: str = Field(min_length=1, description="The id of the newer record that replaces this one.")
    actor: str = Field(default="user", max_length=200)


class DeleteManyRequest(_Request):
    ids: list[str] = Field(min_length=1, max_length=10_000)
    hard: bool = False
    actor: str = Field(default="user", max_length=200)


class DeleteManyResponse(BaseModel):
    deleted: int  # unknown ids (and, for a soft delete, records already deleted) are skipped


class HistoryResponse(BaseModel):
    changes: list[MemoryChange]


class ForgetUserResponse(BaseModel):
    removed: int


class ReflectRequest(_Request):
    scope: MemoryScope
    limit: int = Field(default=50, ge=1, le=1000)


class SummarizeRequest(_Request):
    scope: MemoryScope
    max_input_tokens: int = Field(default=6000, ge=100, le=200_000)


class BlobRef(BaseModel):
    ref: str


class Health(BaseModel):
    status: str = "ok"
    version: str
