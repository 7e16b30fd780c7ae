"""Any other path under `/ui`: a 404 page (HTML, like the rest of the UI), not the API's problem document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .context import error_page
from .render import UI_PREFIX

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


@router.api_route("/{rest:path}", methods=["GET", "POST"])
async def not_found(request: Request, rest: str) -> Response:
    return error_page(request, 404, "There is no such page.")
