"""Model operators on the server: reflect (L0 → cited L1 conclusions) and summarize a session.

They need a model: `OMNE_SERVER__REFLECTION_ROLE` names the role (`main`, ...) whose client the server
builds. Without one they answer 503 `model_not_configured`; a client can still run `reflect()` itself
with its own model against a `RemoteMemoryStore`.
"""

from __future__ import annotations

from autogen_core.models import ChatCompletionClient
from fastapi import APIRouter, Request

from omne_core.memory import MemoryRecord, ReflectionResult, reflect, summarize_session
from omne_core.memory.wire import ReflectRequest, SummarizeRequest
from omne_core.models.factory import role_settings
from omne_core.models.gguf import free_text_args

from ..problems import ApiProblem, ProblemCode
from ..state import Writer, server_state

router = APIRouter(prefix="/v1", tags=["operators"])


def _model(request: Request) -> ChatCompletionClient:
    client = server_state(request).reflection_client()
    if client is None:
        raise ApiProblem(
            503, ProblemCode.MODEL_NOT_CONFIGURED,
            "this server has no model for reflection: start it with OMNE_SERVER__REFLECTION_ROLE=main "
            "(and that role's model settings), or run reflect() in the client with its own model",
        )  # fmt: skip
    return client


@router.post("/reflect", response_model=ReflectionResult, summary="Derive L1 conclusions from recent L0 records")
async def reflect_scope(body: ReflectRequest, request: Request, ctx: Writer) -> ReflectionResult:
    """The model reads recent unreflected records of the scope and writes conclusions citing them; a
    contradicted conclusion is superseded. Malformed model output writes nothing (502 `reflection_failed`)."""
    return await reflect(ctx.store, body.scope, _model(request), limit=body.limit, actor=ctx.actor("reflect"))


@router.post("/summarize", response_model=MemoryRecord, summary="Summarize a session into one summary record")
async def summarize(body: SummarizeRequest, request: Request, ctx: Writer) -> MemoryRecord:
    """The model writes the summary (prose in JSON); on the bundled model it is asked with a repeat penalty, as
    it loops without one."""
    settings = server_state(request).settings
    role = settings.server.reflection_role
    return await summarize_session(
        ctx.store, body.scope, _model(request), max_input_tokens=body.max_input_tokens, actor=ctx.actor("summarize"),
        create_args=free_text_args(role_settings(settings, role)) if role else None,
    )  # fmt: skip
