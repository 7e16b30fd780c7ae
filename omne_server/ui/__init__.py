"""The memory inspector: server-rendered pages under `/ui` on `omne serve`, logged in with the server's API keys.

`install_ui(app, state)` adds the routes (`login.py`, `pages.py`, `actions.py`), the static assets (CSS only,
from this package: no CDN, works offline) and the security headers (`security.py`). Pages reach the tenant's
store through the server's `TenantStores`; actions use the store's operators, so the history names who did them.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from ..auth import OPEN_KEY_ID, Principal
from ..state import ServerState
from . import actions, fallback, login, pages
from .context import UiState
from .render import STATIC, STATIC_PREFIX, UI_PREFIX, Renderer
from .security import UiHeaders
from .sessions import SessionStore

__all__ = ["UI_PREFIX", "install_ui"]


def install_ui(app: FastAPI, state: ServerState) -> None:
    """Serve the inspector on `app` under `/ui`."""
    server = state.settings.server

    async def still_valid(principal: Principal) -> bool:
        if principal.key_id == OPEN_KEY_ID:  # a keyless local session: as long as the server has no key
            return await state.auth.open_access()
        stored = await state.keys.lookup(principal.key_id)
        return stored is not None and stored.key.active

    app.state.omne_ui = UiState(
        sessions=SessionStore(still_valid, lifetime_s=server.ui_session_s, idle_s=server.ui_idle_s,
                              key_check_s=server.key_cache_s),
        renderer=Renderer(),
    )  # fmt: skip
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="ui-static")
    for module in (login, pages, actions, fallback):  # fallback last: an unknown /ui path is an HTML 404
        app.include_router(module.router)
    app.add_middleware(UiHeaders, prefix=UI_PREFIX, static_prefix=STATIC_PREFIX)
