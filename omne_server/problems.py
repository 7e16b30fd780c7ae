"""Every error as `application/problem+json` (RFC 9457) with a stable `code`; nothing internal leaks into it.

Memory errors map to statuses by type (not found → 404, rejected input → 422, ...); a field error names
the field; an unexpected exception is logged with its traceback and answered as a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from omne_core.embeddings import EmbeddingError
from omne_core.errors import ModelError, StorageError
from omne_core.memory import (
    MemoryImportError,
    MemoryNotFoundError,
    MemoryValidationError,
    ReflectionError,
)
from omne_core.memory.wire import PROBLEM_MEDIA_TYPE, FieldProblem, Problem, ProblemCode

logger = logging.getLogger(__name__)

_MAX_FIELD_ERRORS = 20


class ApiProblem(Exception):
    """Raised anywhere in a request to answer with this problem."""

    def __init__(
        self,
        status: int,
        code: ProblemCode,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(detail or code.value)
        self.status, self.code, self.detail = status, code, detail
        self.headers = dict(headers or {})
        self.errors = errors


def problem_response(
    status: int,
    code: ProblemCode,
    detail: str | None = None,
    *,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
    record_id: str | None = None,
) -> Response:
    body = Problem(title=HTTPStatus(status).phrase, status=status, code=code, detail=detail, errors=errors,
                   record_id=record_id)  # fmt: skip
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def problem_bytes(status: int, code: ProblemCode, detail: str) -> bytes:
    """The body of a problem, for ASGI middleware that answers without a Response object."""
    body = Problem(title=HTTPStatus(status).phrase, status=status, code=code, detail=detail)
    return body.model_dump_json(exclude_none=True).encode()


_HTTP_CODES = {
    401: ProblemCode.UNAUTHORIZED,
    403: ProblemCode.READ_ONLY_KEY,
    404: ProblemCode.NOT_FOUND,
    405: ProblemCode.METHOD_NOT_ALLOWED,
    413: ProblemCode.PAYLOAD_TOO_LARGE,
    422: ProblemCode.INVALID_REQUEST,
    503: ProblemCode.UNAVAILABLE,
}


def _field_problems(exc: RequestValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(loc=[p if isinstance(p, int) else str(p) for p in error.get("loc", ())],
                     msg=str(error.get("msg", "")), type=str(error.get("type", "")))
        for error in exc.errors()[:_MAX_FIELD_ERRORS]
    ]  # fmt: skip


def _where(problem: FieldProblem) -> str:
    return ".".join(str(p) for p in problem.loc) or "request"


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc.status, exc.code, exc.detail, errors=exc.errors, headers=exc.headers)


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _field_problems(exc)  # the offending input is left out: it may be large or private
    detail = "; ".join(f"{_where(e)}: {e.msg}" for e in errors[:5]) or "invalid request"
    return problem_response(422, ProblemCode.INVALID_REQUEST, detail, errors=errors)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ProblemCode.INVALID_REQUEST if exc.status_code < 500 else ProblemCode.INTERNAL_ERROR)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 413:  # Starlette's body limit counted a streamed (chunked) body past the limit
        detail = "the request body exceeds the server's size limit"
    return problem_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


def _memory_problem(exc: Exception) -> tuple[int, ProblemCode, str] | None:
    if isinstance(exc, MemoryNotFoundError):
        return 404, ProblemCode.NOT_FOUND, str(exc)
    if isinstance(exc, MemoryImportError):
        return 422, ProblemCode.IMPORT_ERROR, f"line {exc.line}: {exc.reason}"  # not the server's temp path
    if isinstance(exc, MemoryValidationError):
        return 422, ProblemCode.VALIDATION_ERROR, str(exc)
    if isinstance(exc, ReflectionError):
        return 502, ProblemCode.REFLECTION_FAILED, str(exc)
    if isinstance(exc, EmbeddingError):
        return 503, ProblemCode.UNAVAILABLE, "the embedding model is unavailable"
    if isinstance(exc, ModelError):  # the reflection model cannot be reached (after its retries)
        logger.warning("model unavailable: %s", exc)
        return 503, ProblemCode.UNAVAILABLE, "the model is unavailable; see the server log"
    if isinstance(exc, StorageError):  # an index service down, a data directory held by another process, ...
        logger.warning("storage unavailable: %s", exc)
        return 503, ProblemCode.UNAVAILABLE, "the memory store is unavailable; see the server log"
    return None


async def _on_memory_error(request: Request, exc: Exception) -> Response:
    mapped = _memory_problem(exc)
    if mapped is None:
        return await _on_unexpected(request, exc)
    record_id = exc.record_id if isinstance(exc, MemoryNotFoundError) else None
    return problem_response(*mapped, record_id=record_id)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error in %s %s", request.method, request.url.path)
    return problem_response(500, ProblemCode.INTERNAL_ERROR, "an internal error occurred; see the server log")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as a problem document."""
    app.add_exception_handler(ApiProblem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    for exc_type in (StorageError, ModelError):
        app.add_exception_handler(exc_type, _on_memory_error)
    app.add_exception_handler(Exception, _on_unexpected)

