"""Keeping chroma in agreement with SQLite: the outbox of vectors to remove, and the index check.

SQLite is the record of truth and is written first; chroma follows. A vector that could not be written leaves
its record pending (`index_state = 0`), and a vector that could not be removed stays in the `vector_outbox`
table. The cheap check (on open) applies the outbox and compares counts; the full check (on
`omne memory repair`, or when the counts disagree) compares every id of every user.
"""

from __future__ import annotations

import logging

from ..base import IndexCheck
from .chroma import ChromaIndex
from .database import Database

logger = logging.getLogger(__name__)


def apply_outbox(db: Database, vectors: ChromaIndex) -> int:
    """Remove the vectors the outbox names (records hard-deleted while chroma did not answer); returns how many."""
    outbox = db.outbox()
    if not outbox:
        return 0
    users = None
    for rid, user_id in outbox:
        if user_id is None:  # written before the per-user layout: try every user
            users = users if users is not None else vectors.users()
            for user in users:
                vectors.delete(user, [rid])
        else:
            vectors.delete(user_id, [rid])
    db.clear_outbox([rid for rid, _ in outbox])
    return len(outbox)


def check_index(db: Database, vectors: ChromaIndex, full: bool) -> IndexCheck:
    """Apply the outbox; then, if `full` or the vector and record counts differ, compare the ids of every user:
    orphan vectors are deleted and records without a vector are marked pending (the store embeds them).

    The cheap check trusts that equal counts mean equal id sets: every write path either writes the vector or
    leaves the record pending, and every removal goes through the outbox, so the counts can only agree with
    different ids after a change made behind the store's back (which `omne memory repair` finds).
    """
    with db.write_lock:
        apply_outbox(db, vectors)
        result = IndexCheck(full=full)
        if not full and vectors.count() == db.count():
            return result
        result.full = True
        sql_ids = db.ids_by_user()
        missing: list[str] = []
        for user in sorted(set(sql_ids) | set(vectors.users())):
            chroma_ids, ids = vectors.ids(user), sql_ids.get(user, set())
            orphans = sorted(chroma_ids - ids)
            if orphans:
                logger.info("removing %d orphan vectors of one user", len(orphans))
                vectors.delete(user, orphans)
                result.orphans_removed += len(orphans)
            missing.extend(sorted(ids - chroma_ids))
        if missing:
            with db.transaction() as conn:
                db.mark_all_pending(conn, missing)
            result.marked_pending = len(missing)
        return result
