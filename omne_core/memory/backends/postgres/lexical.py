"""BM25 in PostgreSQL, exactly as the embedded backend's FTS5 `bm25()` ranks (k1 = 1.2, b = 0.75).

PostgreSQL's `ts_rank` is not BM25, and retrieval quality rests on it, so this backend keeps its own inverted
index: a posting per (token, record) with the token's count and the record's length, each token's document
frequency, and the totals (documents, tokens). FTS5's formula, term by term:
    idf = ln((N - df + 0.5) / (df + 0.5)), at least 1e-6
    score = sum over query phrases of idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
where N counts every record of the store, dl is a record's tokens plus one (FTS5 counts the owner column's
token in the row size) and avgdl is the mean dl. Tokens come from FTS5's own tokenizer (`tokens.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, sql

from ..lexical_tokens import token_counts
from .filters import owner_key

K1 = 1.2
B = 0.75


def document_length(counts: Counter[str]) -> int:
    """A record's BM25 length as FTS5 counts it: its tokens plus the owner column's one token."""
    return sum(counts.values()) + 1


def query_weights(terms: Sequence[str]) -> dict[str, int]:
    """Token -> how many of the query's phrases it is. FTS5 scores each phrase, so two words with one stem
    count twice; a term of several tokens (`foo_bar`) is taken as each of its tokens."""
    weights: Counter[str] = Counter()
    for counts in token_counts(list(terms)):
        for token in counts:
            weights[token] += 1
    return dict(weights)


async def add_postings(
    conn: AsyncConnection, schema: str, rows: Sequence[tuple[int, str, Counter[str]]]
) -> None:
    """Index records: (seq, user_id, token counts) each. Document frequencies and totals are updated last, in
    token order, so concurrent writers wait on those rows briefly and never deadlock."""
    if not rows:
        return
    df: Counter[str] = Counter()
    tokens = 0
    terms: list[str] = []  # per record: its tokens, space-separated (an FTS5 token never holds a space)
    tfs: list[str] = []  # ... and their counts, in the same order
    keyed: list[tuple[int, int, int]] = []  # ... and its owner, seq, length
    for seq, user_id, counts in rows:
        dl = document_length(counts)
        tokens += dl
        df.update(counts.keys())
        if counts:
            terms.append(" ".join(counts))
            tfs.append(" ".join(map(str, counts.values())))
            keyed.append((owner_key(user_id), seq, dl))
    if terms:  # the server splits the texts: psycopg dumps an array element per record, not per posting
        owners, seqs, lengths = (list(column) for column in zip(*keyed, strict=True))
        await conn.execute(
            sql.SQL(
                "INSERT INTO {s}.postings(term, owner, seq, tf, dl) SELECT p.term, r.owner, r.seq, p.tf::int, r.dl"
                " FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::bigint[], %b::int[]) AS r(terms, tfs, owner, seq, dl)"
                " CROSS JOIN LATERAL unnest(string_to_array(r.terms, ' '), string_to_array(r.tfs, ' ')) AS p(term, tf)"
            ).format(s=sql.Identifier(schema)),
            [terms, tfs, owners, seqs, lengths],
        )
    await _shift_totals(conn, schema, df, len(rows), tokens)


async def remove_postings(conn: AsyncConnection, schema: str, seqs: Sequence[int]) -> None:
    """Unindex records (before their rows are deleted or re-indexed)."""
    if not seqs:
        return
    s = sql.Identifier(schema)
    cur = await conn.execute(
        sql.SQL("DELETE FROM {s}.postings WHERE seq = ANY(%s) RETURNING term, seq, dl").format(s=s), (list(seqs),)
    )
    df: Counter[str] = Counter()
    lengths: dict[int, int] = {}
    for term, seq, dl in await cur.fetchall():
        df[term] -= 1
        lengths[seq] = dl
    # a record with no tokens at all (an image with an empty caption) still counts as a document of length 1
    cur = await conn.execute(
        sql.SQL("SELECT count(*) FROM {s}.records WHERE seq = ANY(%s)").format(s=s), (list(seqs),)
    )
    row = await cur.fetchone()
    documents = int(row[0]) if row else 0
    empty = documents - len(lengths)
    await _shift_totals(conn, schema, df, -documents, -(sum(lengths.values()) + empty))


async def _shift_totals(conn: AsyncConnection, schema: str, df: Counter[str], docs: int, tokens: int) -> None:
    s = sql.Identifier(schema)
    terms = sorted(t for t, n in df.items() if n)
    if terms:
        await conn.execute(
            sql.SQL(
                "INSERT INTO {s}.terms(term, df) SELECT t, n FROM unnest(%b::text[], %b::bigint[]) AS u(t, n)"
                " ORDER BY t ON CONFLICT (term) DO UPDATE SET df = {s}.terms.df + excluded.df"
            ).format(s=s),
            (terms, [df[t] for t in terms]),
        )
    await conn.execute(
        sql.SQL("UPDATE {s}.lexical_totals SET docs = docs + %s, tokens = tokens + %s").format(s=s), (docs, tokens)
    )


def _idf_cte(schema: str) -> sql.Composed:
    """`qi(term, i, idf)`: each query token with its phrase weight times its IDF, in the query's token order.
    Parameters: tokens, phrase weights. Each token's IDF is computed once (MATERIALIZED), its document frequency an
    index lookup (a join with `terms` had the planner scan the whole table), the totals scalar subqueries (a join
    with the one-row table misleads the row estimates); plain float8 arithmetic throughout (a bare literal such as
    0.75 is `numeric` in PostgreSQL, many times slower per posting)."""
    s = sql.Identifier(schema)
    docs = sql.SQL("(SELECT docs::float8 FROM {s}.lexical_totals)").format(s=s)
    return sql.SQL(
        "WITH qi AS MATERIALIZED (SELECT u.term, u.i,"
        "   u.w * CASE WHEN x.idf > 0 THEN x.idf ELSE 1e-6::float8 END AS idf"
        "   FROM unnest(%s::text[], %s::float8[]) WITH ORDINALITY AS u(term, w, i)"
        "   CROSS JOIN LATERAL (SELECT coalesce((SELECT d.df FROM {s}.terms d WHERE d.term = u.term), 0)::float8 AS df) f"
        "   CROSS JOIN LATERAL (SELECT ln(({docs} - f.df + 0.5::float8) / (f.df + 0.5::float8)) AS idf) x)"
    ).format(s=s, docs=docs)  # fmt: skip


def _score(schema: str) -> sql.Composed:
    """A record's BM25 over its postings `p` of the query tokens `qi`: summed in the query's token order with
    FTS5's operand order (`idf * (tf * (k1 + 1)) / ...`), so ties break as FTS5's."""
    avgdl = sql.SQL("(SELECT tokens::float8 / greatest(docs, 1) FROM {s}.lexical_totals)").format(s=sql.Identifier(schema))
    return sql.SQL("sum(qi.idf * (p.tf * {k1p1}) / (p.tf + {k1} * ({one_b} + {b} * p.dl / {avgdl})) ORDER BY qi.i)").format(
        avgdl=avgdl, k1=_float(K1), k1p1=_float(K1 + 1), b=_float(B), one_b=_float(1 - B)
    )


def _scored(schema: str, owners: Sequence[str] | None) -> tuple[sql.Composed, list[Any]]:
    """SQL of (seq, score) for every record holding a query token (the owners' records only, when given), driven
    by the tokens' postings. Parameters follow: tokens, phrase weights, [owner keys]."""
    s = sql.Identifier(schema)
    owner = sql.SQL(" JOIN unnest(%s::bigint[]) AS o(owner) ON p.owner = o.owner") if owners else sql.SQL("")
    query = sql.SQL(
        "{qi} SELECT p.seq, {score} AS score FROM qi JOIN {s}.postings p ON p.term = qi.term{owner} GROUP BY p.seq"
    ).format(qi=_idf_cte(schema), score=_score(schema), s=s, owner=owner)
    return query, [[owner_key(u) for u in owners]] if owners else []


def _float(value: float) -> sql.Composed:
    return sql.SQL("{}::float8").format(sql.Literal(value))


async def top(
    conn: AsyncConnection,
    schema: str,
    weights: dict[str, int],
    limit: int,
    owners: Sequence[str] | None,
    where: tuple[sql.Composable, list[Any]] | None = None,
) -> list[tuple[int, str, float, bool]]:
    """(seq, id, bm25, kept) best first: the best `limit` of the owners' records (no join per match), each
    with whether `where` keeps it. The caller falls back to `filtered` when too few are kept."""
    scored, owner_params = _scored(schema, owners)
    terms = list(weights)
    params: list[Any] = [terms, [float(weights[t]) for t in terms], *owner_params]
    keep_sql, keep_params = where if where is not None else (sql.SQL("true"), [])
    query = sql.SQL(
        "SELECT c.seq, r.id, c.score, ({keep}) FROM ({scored} ORDER BY score DESC, p.seq LIMIT %s) c"
        " JOIN {s}.records r ON r.seq = c.seq ORDER BY c.score DESC, c.seq"
    ).format(keep=keep_sql, scored=scored, s=sql.Identifier(schema))
    cur = await conn.execute(query, [*keep_params, *params, limit])
    return [(seq, rid, float(score), bool(kept)) for seq, rid, score, kept in await cur.fetchall()]


async def filtered(
    conn: AsyncConnection,
    schema: str,
    weights: dict[str, int],
    limit: int,
    owners: Sequence[str],
    where: tuple[sql.Composable, list[Any]],
    *,
    from_records: bool = False,
) -> list[tuple[str, float]]:
    """(id, bm25) best first among the records `where` keeps. `from_records` (a selective filter: a time window, a
    session): driven by those records, each one's postings of the query tokens found by the primary key (token,
    owner, record); else every posting of the tokens is scored, then joined with the filter."""
    terms = list(weights)
    where_sql, where_params = where
    tokens: list[Any] = [terms, [float(weights[t]) for t in terms]]
    s = sql.Identifier(schema)
    if from_records:
        query = sql.SQL(
            "{qi}, allowed AS MATERIALIZED (SELECT r.seq, r.id FROM {s}.records r WHERE {where})"
            " SELECT a.id, {score} AS score FROM allowed a CROSS JOIN qi"
            " JOIN {s}.postings p ON p.term = qi.term AND p.owner = ANY(%s::bigint[]) AND p.seq = a.seq"
            " GROUP BY a.seq, a.id ORDER BY score DESC, a.seq LIMIT %s"
        ).format(qi=_idf_cte(schema), s=s, where=where_sql, score=_score(schema))
        params = [*tokens, *where_params, [owner_key(u) for u in owners], limit]
    else:
        scored, owner_params = _scored(schema, owners)
        query = sql.SQL(
            "SELECT r.id, c.score FROM ({scored}) c JOIN {s}.records r ON r.seq = c.seq WHERE {where}"
            " ORDER BY c.score DESC, c.seq LIMIT %s"
        ).format(scored=scored, s=s, where=where_sql)
        params = [*tokens, *owner_params, *where_params, limit]
    cur = await conn.execute(query, params)
    return [(rid, float(score)) for rid, score in await cur.fetchall()]


async def phrase_counts(conn: AsyncConnection, schema: str, terms: Sequence[str]) -> dict[str, int]:
    """How many records hold each query term (a term of several tokens: its rarest token's count, an upper
    bound of FTS5's phrase count)."""
    tokens = [list(c) for c in token_counts(list(terms))]
    df = await document_counts(conn, schema, sorted({t for ts in tokens for t in ts}))
    return {term: min((df[t] for t in ts), default=0) for term, ts in zip(terms, tokens, strict=True)}


async def document_counts(conn: AsyncConnection, schema: str, tokens: Sequence[str]) -> dict[str, int]:
    """How many records hold each token (0 for a token no record holds)."""
    cur = await conn.execute(
        sql.SQL("SELECT term, df FROM {s}.terms WHERE term = ANY(%s)").format(s=sql.Identifier(schema)),
        (list(tokens),),
    )
    found = {term: int(df) for term, df in await cur.fetchall()}
    return {t: found.get(t, 0) for t in tokens}
