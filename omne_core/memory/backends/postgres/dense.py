"""Vector search in PostgreSQL (pgvector, HNSW, cosine), limited to the records a filter allows.

pgvector 0.6 filters after the HNSW scan (no iterative scans before 0.8), so a selective filter could starve an
HNSW query. Like the embedded backend: an unfiltered HNSW query over-fetches, each candidate is checked against
the filter in the same statement, and when too few are kept the filtered rows are scored exactly (a plain scan
of the rows the filter's b-tree indexes find, sorted by distance: never starved, and cheap for a selective
filter, which is when it runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import AsyncConnection, sql

from .pool import SESSION_EF_SEARCH

MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search


def as_vector(values: Sequence[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


async def hnsw_top(
    conn: AsyncConnection, schema: str, embedding: Sequence[float], fetch: int, where: tuple[sql.Composable, list[Any]]
) -> list[tuple[str, float, bool]]:
    """(id, cosine similarity, kept by `where`) of the `fetch` nearest vectors of the store, nearest first.
    A `fetch` above the session's ef_search sets it for the caller's transaction alone (pass one)."""
    if fetch > SESSION_EF_SEARCH:
        await conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(min(MAX_EF_SEARCH, fetch)),))
    keep_sql, keep_params = where
    query = sql.SQL(
        "SELECT r.id, 1 - c.d, ({keep}) FROM"
        " (SELECT v.seq, v.embedding <=> %s AS d FROM {s}.vectors v ORDER BY v.embedding <=> %s LIMIT %s) c"
        " JOIN {s}.records r ON r.seq = c.seq ORDER BY c.d"
    ).format(keep=keep_sql, s=sql.Identifier(schema))
    vector = as_vector(embedding)
    cur = await conn.execute(query, [*keep_params, vector, vector, fetch])
    return [(rid, float(sim), bool(kept)) for rid, sim, kept in await cur.fetchall()]


async def exact(
    conn: AsyncConnection, schema: str, embedding: Sequence[float], n: int, where: tuple[sql.Composable, list[Any]]
) -> list[tuple[str, float]]:
    """(id, cosine similarity) of the `n` nearest among the records `where` allows, scored exactly: driven by the
    allowed records (the filter's b-tree index), each one's vector fetched by its key. The fence (`OFFSET 0`) keeps
    the planner from joining by a scan of every vector of the store (it did: 100k vectors read for 1,000 rows)."""
    where_sql, where_params = where
    query = sql.SQL(
        "SELECT r.id, 1 - x.d AS sim FROM {s}.records r"
        " CROSS JOIN LATERAL (SELECT v.embedding <=> %s AS d FROM {s}.vectors v WHERE v.seq = r.seq OFFSET 0) x"
        " WHERE {where} ORDER BY x.d, r.seq LIMIT %s"
    ).format(s=sql.Identifier(schema), where=where_sql)
    cur = await conn.execute(query, [as_vector(embedding), *where_params, n])
    return [(rid, float(sim)) for rid, sim in await cur.fetchall()]
