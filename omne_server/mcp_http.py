"""MCP over streamable HTTP at `/mcp` on `omne serve`: the same keys as REST, a key's tenant store per call.

Stateless (no MCP session survives a request), so any server process can answer any call: several servers
behind a load balancer need no sticky sessions.
"""

from __future__ import annotations

from mcp.server.fastmcp import Context, FastMCP
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from .auth import Principal
from .mcp_tools import USER_HEADER, McpCaller, build_mcp
from .problems import ApiProblem, problem_response
from .state import ServerState

PRINCIPAL_KEY = "omne.principal"  # where the endpoint leaves the caller in the ASGI scope for the tools


def build_http_mcp(state: ServerState) -> tuple[FastMCP, StreamableHTTPSessionManager]:
    """The MCP server of `state`'s tenants, and its session manager (run it in the app's lifespan)."""

    async def resolve(ctx: Context) -> McpCaller:
        request = ctx.request_context.request
        principal: Principal = request.scope[PRINCIPAL_KEY]  # type: ignore[union-attr]
        store = await state.tenants.get(principal.tenant)
        user = request.headers.get(USER_HEADER) or None  # type: ignore[union-attr]
        return McpCaller(store=store, read_only=principal.read_only, user_id=user, actor=principal.actor("mcp"))

    mcp = build_mcp(resolve)
    mcp.streamable_http_app()  # creates the session manager
    return mcp, mcp.session_manager


class McpEndpoint:
    """ASGI app at `/mcp`: authenticate like REST (401 problem otherwise), then hand over to the MCP transport."""

    def __init__(self, state: ServerState, sessions: StreamableHTTPSessionManager) -> None:
        self.state, self.sessions = state, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        try:
            scope[PRINCIPAL_KEY] = await self.state.auth.authenticate(headers.get("authorization"), headers.get("host"))
        except ApiProblem as problem:
            response = problem_response(problem.status, problem.code, problem.detail, headers=problem.headers)
            await response(scope, receive, send)
            return
        await self.sessions.handle_request(scope, receive, send)
