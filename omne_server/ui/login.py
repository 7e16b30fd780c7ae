"""Logging in with an API key and out again.

The login form is protected by a double-submit token (a short-lived cookie whose value the form repeats) and
the origin check; the pasted key is verified by the server's `Authenticator` and then forgotten: the browser
gets a session cookie (HttpOnly, SameSite=Strict, Path=/ui, Secure over HTTPS) that names a server-side session.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ..auth import loopback_host
from ..problems import ApiProblem
from ..state import server_state
from .context import Poster, UiRoute, ui_state
from .render import UI_PREFIX, url
from .security import same_origin
from .sessions import LOGIN_COOKIE, SESSION_COOKIE

logger = logging.getLogger(__name__)

router = APIRouter(prefix=UI_PREFIX, route_class=UiRoute, include_in_schema=False)
_LOGIN_TOKEN_S = 900
_MAX_KEY_CHARS = 200


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=UI_PREFIX, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


async def _keyless(request: Request) -> bool:
    """True on a local server with no key at all (`omne serve` on 127.0.0.1 before `omne keys create`), reached
    through a loopback Host name: the UI may then be entered without a key, as tenant `default`."""
    auth = server_state(request).auth
    return loopback_host(request.headers.get("host")) and await auth.open_access()


async def _login_form(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = ui_state(request).renderer.page(
        request, "login.html", status_code=status_code, login_token=token, error=error, keyless=await _keyless(request)
    )
    _cookie(response, request, LOGIN_COOKIE, token, _LOGIN_TOKEN_S)
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    if await ui_state(request).sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(url("/"), status_code=303)
    return await _login_form(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    expected, sent = request.cookies.get(LOGIN_COOKIE, ""), form.get("login_token")
    if not same_origin(request) or not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        return await _login_form(request, "The login form expired or came from elsewhere: try again.", 403)
    key = form.get("key")
    key = key.strip() if isinstance(key, str) else ""
    auth = server_state(request).auth
    if form.get("keyless") == "1":
        if not await _keyless(request):
            return await _login_form(request, "This server has API keys: log in with one.", 401)
        principal = await auth.authenticate(None, request.headers.get("host"))
    elif not key or len(key) > _MAX_KEY_CHARS:
        return await _login_form(request, "Paste an API key (`omne keys create --tenant NAME`).", 401)
    else:
        try:
            principal = await auth.verify(key)
        except ApiProblem:
            return await _login_form(request, "This API key is not valid (unknown, malformed or revoked).", 401)
    session_id, _ = ui_state(request).sessions.create(principal)
    logger.info("ui login: tenant %s, key %s%s", principal.tenant, principal.key_id, " (read-only)" if principal.read_only else "")
    response = RedirectResponse(url("/"), status_code=303)
    settings = server_state(request).settings.server
    _cookie(response, request, SESSION_COOKIE, session_id, int(settings.ui_session_s))
    response.delete_cookie(LOGIN_COOKIE, path=UI_PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, ctx: Poster) -> Response:
    ui_state(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(url("/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
    return response
