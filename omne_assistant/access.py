"""Which memory scopes an agent reads and where it writes; team memory is a shared namespace plus private scopes.

Scope fields left unset in a query match anything, so shared and private records are told apart by
their namespace: team records live in `namespace=team` (no agent id), an agent's private records in
`namespace="team/agent"` with `agent_id=agent`. A query for one never returns the other.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from omne_core.records import MemoryScope


class MemoryAccess(BaseModel):
    """Read from the union of `read` scopes; write new records to `write` (plus the agent's session id)."""

    model_config = {"frozen": True}

    read: tuple[MemoryScope, ...] = Field(min_length=1)
    write: MemoryScope

    @classmethod
    def of(cls, scope: MemoryScope) -> MemoryAccess:
        """Read and write one scope."""
        return cls(read=(scope,), write=scope)

    @model_validator(mode="after")
    def _write_is_readable(self) -> MemoryAccess:
        if not any(r.contains(self.write) for r in self.read):
            raise ValueError("the write scope must be readable through one of the read scopes")
        return self

    def for_session(self, session_id: str | None) -> MemoryScope:
        """The scope a record of `session_id` is written to."""
        if session_id is None or self.write.session_id is not None:
            return self.write
        return self.write.model_copy(update={"session_id": session_id})


class TeamMemory(BaseModel):
    """The memory layout of one AutoGen team for one user: a shared namespace and per-agent private scopes."""

    user_id: str
    team: str = Field(min_length=1)

    @property
    def shared(self) -> MemoryScope:
        return MemoryScope(user_id=self.user_id, namespace=self.team)

    def private(self, agent_id: str) -> MemoryScope:
        return MemoryScope(user_id=self.user_id, agent_id=agent_id, namespace=f"{self.team}/{agent_id}")

    def access(self, agent_id: str, write: Literal["team", "private"] = "team") -> MemoryAccess:
        """An agent reads the team's memory and its own; it writes where it is told."""
        private = self.private(agent_id)
        return MemoryAccess(read=(self.shared, private), write=self.shared if write == "team" else private)
