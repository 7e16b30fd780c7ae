"""The inspector's actions: edit (a new version), supersede, delete (soft or hard), forget a user, export.

Each is two posts: the first shows what will happen on a confirmation page (nothing is written), the second,
carrying `confirm=yes`, does it through the store's operators, which write the change history with the actor
`ui [key <id>]`. Every post passes `ui_writer`: a session of a read-write key, this server's origin, the CSRF token.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from omne_core.memory import MemoryScope, MemoryValidationError

from ..routes.scopes import _export as export_response  # the REST export: one way to stream a JSONL file
from ..state import TenantContext
from .context import Reader, RecordId, UiContext, UiRoute, Writer, ui_state
from .render import UI_PREFIX, url

logger = logging.getLogger(__name__)

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)
MAX_TEXT_CHARS = 200_000


def _confirmed(ctx: UiContext) -> bool:
    return ctx.field("confirm") == "yes"


def _confirm_page(request: Request, **context: Any) -> Response:
    context.setdefault("danger", False)
    context.setdefault("records", [])
    context.setdefault("changes", [])
    context.setdefault("typed", None)
    return ui_state(request).renderer.page(request, "confirm.html", **context)


def _number(ctx: UiContext, name: str) -> float | None:
    raw = ctx.field(name).strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise MemoryValidationError(f"{name} must be a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise MemoryValidationError(f"{name} must be a number between 0 and 1")
    return value


def _metadata(ctx: UiContext) -> dict[str, Any]:
    try:
        value = json.loads(ctx.field("metadata") or "{}")
    except json.JSONDecodeError as exc:
        raise MemoryValidationError(f"metadata is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(value, dict):
        raise MemoryValidationError("metadata must be a JSON object ({...})")
    return value


# -- edit ----------------------------------------------------------------------------------------
@router.get("/record/edit")
async def edit_form(request: Request, ctx: Reader, record_id: RecordId) -> Response:
    record = await ctx.store.get(record_id)
    metadata = json.dumps(record.metadata, indent=2, ensure_ascii=False, sort_keys=True)
    return ui_state(request).renderer.page(request, "edit.html", record=record, metadata=metadata)


@router.post("/record/edit")
async def edit(request: Request, ctx: Writer, record_id: RecordId) -> Response:
    record = await ctx.store.get(record_id)
    text = ctx.field("text").replace("\r\n", "\n")
    if not text.strip() or len(text) > MAX_TEXT_CHARS:
        raise MemoryValidationError(f"the text must be non-empty and at most {MAX_TEXT_CHARS} characters")
    importance, confidence, metadata = _number(ctx, "importance"), _number(ctx, "confidence"), _metadata(ctx)
    changes: dict[str, Any] = {}
    for name, value in (("text", text), ("importance", importance), ("confidence", confidence), ("metadata", metadata)):
        if value is not None and value != getattr(record, name):
            changes[name] = value
    if not changes:
        return RedirectResponse(url("/record", id=record.id), status_code=303)
    if ctx.field("version") != str(record.version):
        raise MemoryValidationError("the record changed since this form was shown: open it again and redo the edit")
    if not _confirmed(ctx):
        return _confirm_page(
            request, title="Save a new version?", action=url("/record/edit", id=record.id), records=[record],
            changes=[(name, getattr(record, name), value) for name, value in changes.items()],
            fields={"text": text, "importance": ctx.field("importance"), "confidence": ctx.field("confidence"),
                    "metadata": ctx.field("metadata") or "{}", "version": str(record.version)},
            explain=f"Version {record.version} stays in the history; the record becomes version {record.version + 1}.",
            cancel=url("/record", id=record.id), button="Save new version",
        )  # fmt: skip
    await ctx.store.update(record.id, actor=ctx.actor, **changes)
    return RedirectResponse(url("/record", id=record.id, done="edited"), status_code=303)


# -- supersede -----------------------------------------------------------------------------------
@router.post("/record/supersede")
async def supersede(request: Request, ctx: Writer, record_id: RecordId) -> Response:
    old = await ctx.store.get(record_id)
    by = ctx.field("by").strip()
    if not by:
        raise MemoryValidationError("name the record that supersedes this one (its id)")
    new = await ctx.store.get(by)
    if new.id == old.id:
        raise MemoryValidationError("a record cannot supersede itself")
    if new.scope.user_id != old.scope.user_id:
        raise MemoryValidationError("a record can only be superseded by a record of the same user")
    if not _confirmed(ctx):
        return _confirm_page(
            request, title="Mark this record superseded?", action=url("/record/supersede", id=old.id),
            records=[old, new], fields={"by": new.id},
            explain="The first record becomes superseded by the second: it stays stored and in the history, but "
                    "searches skip it.",
            cancel=url("/record", id=old.id), button="Supersede",
        )  # fmt: skip
    await ctx.store.supersede(old.id, new.id, actor=ctx.actor)
    return RedirectResponse(url("/record", id=old.id, done="superseded"), status_code=303)


# -- delete --------------------------------------------------------------------------------------
@router.post("/record/delete")
async def delete(request: Request, ctx: Writer, record_id: RecordId) -> Response:
    record = await ctx.store.get(record_id)
    mode = ctx.field("mode")
    if mode not in ("soft", "hard"):
        raise MemoryValidationError("choose a soft or a hard delete")
    hard = mode == "hard"
    if not _confirmed(ctx):
        explain = (
            "Hard delete: the text, vector and blob are purged and the history keeps only that it happened. "
            "This cannot be undone."
            if hard
            else "Soft delete: the record's status becomes deleted; it stays in the history and searches skip it."
        )
        return _confirm_page(
            request, title=f"{'Purge' if hard else 'Delete'} this record?", action=url("/record/delete", id=record.id),
            records=[record], fields={"mode": mode}, explain=explain, danger=hard,
            cancel=url("/record", id=record.id), button="Purge for good" if hard else "Delete",
        )  # fmt: skip
    await ctx.store.delete(record.id, hard=hard, actor=ctx.actor)
    if hard:
        return RedirectResponse(url("/records", user=record.scope.user_id, done="hard_deleted"), status_code=303)
    return RedirectResponse(url("/record", id=record.id, done="deleted"), status_code=303)


# -- a whole user --------------------------------------------------------------------------------
def _user(ctx: UiContext) -> str:
    user = ctx.field("user").strip()
    if not user:
        raise MemoryValidationError("name a user")
    return user


@router.post("/users/forget")
async def forget_user(request: Request, ctx: Writer) -> Response:
    user = _user(ctx)
    stats = await ctx.store.stats(MemoryScope(user_id=user))
    if not _confirmed(ctx) or ctx.field("typed") != user:
        return _confirm_page(
            request, title="Forget this user?", action=url("/users/forget"), fields={"user": user}, danger=True,
            explain=f"Every record of the user ({stats.total}), their vectors, blobs and history entries are purged. "
                    "This cannot be undone. Type the user id to confirm.",
            typed=user, cancel=url("/users"), button="Forget the user",
            mismatch=_confirmed(ctx) and ctx.field("typed") != user,
        )  # fmt: skip
    removed = await ctx.store.forget_user(user, actor=ctx.actor)
    logger.info("ui: %s forgot a user of tenant %s (%d records)", ctx.actor, ctx.principal.tenant, removed)
    return RedirectResponse(url("/users", done="forgotten"), status_code=303)


@router.post("/users/export")
async def export_user(request: Request, ctx: Writer) -> Response:
    user = _user(ctx)
    stats = await ctx.store.stats(MemoryScope(user_id=user))
    if not _confirmed(ctx):
        return _confirm_page(
            request, title="Export this user's memory?", action=url("/users/export"), fields={"user": user},
            explain=f"Downloads every record of the user ({stats.total}, every status, blobs inlined) as JSONL, "
                    "the format `omne memory import` and POST /v1/import read. The file holds everything they said.",
            cancel=url("/users"), button="Download JSONL",
        )  # fmt: skip
    logger.info("ui: %s exported a user of tenant %s (%d records)", ctx.actor, ctx.principal.tenant, stats.total)
    return await export_response(TenantContext(ctx.principal, ctx.store), MemoryScope(user_id=user), ctx.actor)
