"""Copy a whole store to another backend (`omne memory migrate`): every record with its index texts and its
vector (reused, not re-embedded), and every history row, then the counts per user compared.

Resumable: records are copied in pages, each page in one target transaction that skips ids already there;
history rows are copied in source order, each page committed with a marker of the last source row copied. A
run killed half-way is run again and finishes, with nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import OmneSettings
from .backends.base import TransferSource, TransferTarget
from .errors import MemoryStoreError

PAGE = 500


class MigrationError(MemoryStoreError):
    """A migration cannot run (another embedding model) or did not verify (counts differ)."""


@dataclass
class MigrationSummary:
    records_copied: int = 0
    records_present: int = 0  # already in the target (a resumed run)
    history_copied: int = 0
    vectors_missing: int = 0  # records the source had not embedded yet: the target embeds them on open
    per_user: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"records copied: {self.records_copied} (already there: {self.records_present})",
            f"history rows copied: {self.history_copied}",
            f"users: {len(self.per_user)}, every one with as many records as the source",
        ]
        if self.vectors_missing:
            out.append(f"records without a vector in the source (embedded on the next open): {self.vectors_missing}")
        return out


def endpoint(backend: Any) -> TransferTarget:
    """The copy protocol over an open storage backend (either end of a migration)."""
    if backend.name == "embedded":
        from .backends.embedded.copying import EmbeddedCopy

        return EmbeddedCopy(backend)
    if backend.name == "postgres":
        from .backends.postgres.copying import PostgresCopy

        return PostgresCopy(backend)
    raise MigrationError(f"no copy support for the {backend.name!r} backend")


async def migrate(
    source: TransferSource,
    target: TransferTarget,
    *,
    page: int = PAGE,
    progress: Callable[[str], Any] | None = None,
) -> MigrationSummary:
    """Copy `source` into `target` (resuming a partial copy) and verify the record counts per user."""
    source_embedder, target_embedder = await source.embedder_name(), await target.embedder_name()
    if source_embedder and target_embedder and source_embedder != target_embedder:
        raise MigrationError(
            f"the source's vectors come from {source_embedder!r}, the target is set up for {target_embedder!r}: "
            "open the target with the same embedding model (vectors are copied, not recomputed)"
        )
    summary = MigrationSummary()
    after = 0
    while batch := await source.export_records(after, page):
        created = await target.import_records(batch)
        summary.records_copied += created
        summary.records_present += len(batch) - created
        summary.vectors_missing += sum(1 for r in batch if r.embedding is None)
        after = batch[-1].seq
        if progress:
            progress(f"records: {summary.records_copied + summary.records_present} done")
    key = f"migrated_history_from:{await source.store_id()}"
    after = await target.get_marker(key)
    while rows := await source.export_history(after, page):
        summary.history_copied += await target.import_history(rows, (key, rows[-1].seq))
        after = rows[-1].seq
        if progress:
            progress(f"history rows: {summary.history_copied} copied")
    expected = await source.counts_by_user()
    _verify("records", expected, await target.counts_by_user())
    _verify("history rows", await source.history_counts_by_user(), await target.history_counts_by_user())
    summary.per_user = expected
    return summary


def _verify(what: str, expected: dict[Any, int], got: dict[Any, int]) -> None:
    """Every user has at least as many in the target as in the source (a target may hold more of its own)."""
    short = {user: (n, got.get(user, 0)) for user, n in expected.items() if got.get(user, 0) < n}
    if short:
        sample = ", ".join(f"{user!r}: {have} of {want}" for user, (want, have) in list(short.items())[:5])
        raise MigrationError(f"the target is missing {what} of {len(short)} user(s): {sample}")


async def migrate_store(
    source: OmneSettings, target: OmneSettings, *, page: int = PAGE, progress: Callable[[str], Any] | None = None
) -> MigrationSummary:
    """Open both stores' backends (the embedding model only names the vector space: nothing is embedded) and
    copy `source` into `target`. A record the source had not embedded yet is embedded when the target opens."""
    from ..embeddings import build_embedder
    from .backends import open_backend

    embedder = build_embedder(source.embedding)
    source_backend = await open_backend(source, embedder)
    try:
        target_backend = await open_backend(target, embedder)
        try:
            if await endpoint(source_backend).store_id() == await endpoint(target_backend).store_id():
                raise MigrationError("the source and the target are the same store")
            return await migrate(endpoint(source_backend), endpoint(target_backend), page=page, progress=progress)
        finally:
            await target_backend.close()
    finally:
        await source_backend.close()
