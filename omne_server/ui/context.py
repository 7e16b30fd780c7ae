"""Who a UI request acts as: the session behind its cookie, its tenant's store, and the checks of an action.

`UiRoute` turns the UI's errors into pages (never JSON problems): no session → the login page; a refused
action → a 403 page; an unknown record → 404; input the store rejects → 422 with the store's message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from omne_core.memory import MemoryNotFoundError, MemoryStore, MemoryValidationError

from ..auth import Principal
from ..state import server_state
from .render import Renderer, url
from .security import same_origin
from .sessions import SESSION_COOKIE, SessionStore, UiSession

logger = logging.getLogger(__name__)

UI_ACTOR = "ui"


@dataclass
class UiState:
    """What the UI adds to a running server (`app.state.omne_ui`)."""

    sessions: SessionStore
    renderer: Renderer


class LoginRequired(Exception):
    """No live session: the browser goes to the login page."""


class UiRefused(Exception):
    """An action this session may not take (read-only key, bad CSRF token, another origin)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def ui_state(request: Request) -> UiState:
    state: UiState = request.app.state.omne_ui
    return state


@dataclass(frozen=True)
class UiContext:
    """One request's session, principal and tenant store."""

    session: UiSession
    store: MemoryStore
    form: FormData | None = None

    @property
    def principal(self) -> Principal:
        return self.session.principal

    @property
    def actor(self) -> str:
        """The history's actor: `ui [key <id>]`, naming the key by its id, never the key itself."""
        return self.principal.actor(UI_ACTOR)

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default


async def _session(request: Request) -> UiSession:
    session = await ui_state(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired()
    request.state.ui_session = session
    request.state.principal = session.principal  # for the access log of later layers; never the key
    return session


async def ui_reader(request: Request) -> UiContext:
    session = await _session(request)
    return UiContext(session, await server_state(request).tenants.get(session.principal.tenant))


async def ui_form(request: Request) -> UiContext:
    """A form post of a session: from this server's own page, carrying the session's CSRF token."""
    session = await _session(request)
    if not same_origin(request):
        raise UiRefused(403, "This request did not come from a page of this server.")
    form = await request.form()
    token = form.get("csrf")
    if not session.csrf_matches(token if isinstance(token, str) else None):
        raise UiRefused(403, "The form's security token is missing or stale: reload the page and try again.")
    return UiContext(session, await server_state(request).tenants.get(session.principal.tenant), form)


async def ui_writer(request: Request) -> UiContext:
    """An action: a form post (`ui_form`) of a read-write key."""
    session = await _session(request)
    if session.read_only:
        raise UiRefused(403, "This key is read-only: it can look but not change anything.")
    return await ui_form(request)


Reader = Annotated[UiContext, Depends(ui_reader)]
# A record id travels in the query string (`?id=`): ids are any non-empty string, slashes included.
RecordId = Annotated[str, Query(alias="id", min_length=1, max_length=4096)]
Poster = Annotated[UiContext, Depends(ui_form)]
Writer = Annotated[UiContext, Depends(ui_writer)]


class UiRoute(APIRoute):
    """A UI route: its errors become HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return RedirectResponse(url("/login"), status_code=303)
            except UiRefused as exc:
                return error_page(request, exc.status, exc.message)
            except MemoryNotFoundError:
                return error_page(request, 404, "No such record in this tenant.")
            except MemoryValidationError as exc:
                return error_page(request, 422, str(exc))
            except RequestValidationError as exc:
                return error_page(request, 422, "; ".join(_field_error(e) for e in exc.errors()[:5]))

        return guarded


def _field_error(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
    return f"{where}: {error.get('msg', 'invalid')}"


def error_page(request: Request, status: int, message: str) -> Response:
    return ui_state(request).renderer.page(request, "error.html", status_code=status, status=status, message=message)
