"""What a running server holds (settings, keys, tenant stores, the model for reflection) and the request
dependencies that turn an `Authorization` header into a tenant's store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from autogen_core.models import ChatCompletionClient
from fastapi import Depends, Request, Security
from fastapi.security import HTTPBearer

from omne_core.config import OmneSettings
from omne_core.memory import MemoryStore

from .auth import Authenticator, Principal, read_only_refused
from .keys import KeyStore
from .tenants import TenantStores

ModelFactory = Callable[[], ChatCompletionClient]

# Documents the scheme in the OpenAPI document; the header itself is read and checked by `Authenticator`.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key from `omne keys create`.")


@dataclass
class ServerState:
    settings: OmneSettings
    keys: KeyStore
    auth: Authenticator
    tenants: TenantStores
    model_factory: ModelFactory | None = None  # None: reflect/summarize answer 503
    _model: ChatCompletionClient | None = field(default=None, init=False, repr=False)

    def reflection_client(self) -> ChatCompletionClient | None:
        """The model client for reflect/summarize, built on first use and shared by every request."""
        if self._model is None and self.model_factory is not None:
            self._model = self.model_factory()
        return self._model

    async def close(self) -> None:
        """After the last request: close the tenant stores, the key store and the model client."""
        await self.tenants.close()
        await self.keys.close()
        if self._model is not None:
            await self._model.close()
            self._model = None


@dataclass(frozen=True)
class TenantContext:
    """The caller of one request and its tenant's store."""

    principal: Principal
    store: MemoryStore

    def actor(self, actor: str) -> str:
        return self.principal.actor(actor)


def server_state(request: Request) -> ServerState:
    return request.app.state.omne


async def current_principal(request: Request, _: object = Security(bearer_scheme)) -> Principal:
    principal = await server_state(request).auth.authenticate(request.headers.get("authorization"), request.headers.get("host"))
    request.state.principal = principal  # for the access log of later layers; never the key itself
    return principal


async def read_access(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> TenantContext:
    return TenantContext(principal, await server_state(request).tenants.get(principal.tenant))


async def write_access(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> TenantContext:
    if principal.read_only:
        raise read_only_refused()
    return TenantContext(principal, await server_state(request).tenants.get(principal.tenant))


Reader = Annotated[TenantContext, Depends(read_access)]
Writer = Annotated[TenantContext, Depends(write_access)]
