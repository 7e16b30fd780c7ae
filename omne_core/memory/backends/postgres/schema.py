"""The PostgreSQL store's tables, one schema per store, and their in-place migrations.

`schema_version` holds the version the tables are at; `migrate` applies the steps above it in order, each in
the transaction that records it, under an advisory lock (two processes opening one store at once apply each
step once). A schema newer than the code is refused, not touched. The vector table's dimension comes from the
embedding model, so it is created (or rebuilt, for another model) by `ensure_vectors`, not by a step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import AsyncConnection, sql

from ...errors import MemoryStoreError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]  # SQL with `{s}` for the store's schema (an identifier, quoted)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "records, access counts, history, the BM25 inverted index",
        (
            """CREATE TABLE {s}.meta(key text PRIMARY KEY, value text NOT NULL)""",
            """CREATE TABLE {s}.records(
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order
                id text NOT NULL UNIQUE,
                user_id text NOT NULL,
                agent_id text,
                session_id text,
                namespace text,
                kind text NOT NULL,
                status text NOT NULL,
                content_hash text NOT NULL,
                ts double precision NOT NULL,        -- event_time, else created_at (epoch seconds)
                blob_ref text,
                dense_text text NOT NULL,            -- what the vector embeds
                lexical_text text NOT NULL,          -- what the BM25 postings index (kept: to re-index, to export)
                body jsonb NOT NULL                  -- the record (without its access counts)
            )""",
            "CREATE INDEX records_scope ON {s}.records(user_id, session_id, seq)",
            "CREATE INDEX records_hash ON {s}.records(user_id, content_hash)",
            "CREATE INDEX records_ts ON {s}.records(user_id, ts)",
            "CREATE INDEX records_blob ON {s}.records(blob_ref) WHERE blob_ref IS NOT NULL",
            # Access counts change on every search: apart, so a search never rewrites a record row.
            """CREATE TABLE {s}.record_access(
                seq bigint PRIMARY KEY REFERENCES {s}.records(seq) ON DELETE CASCADE,
                access_count integer NOT NULL,
                last_accessed_at timestamptz
            )""",
            """CREATE TABLE {s}.history(
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                record_id text,
                user_id text,
                op text NOT NULL,
                actor text NOT NULL,
                at timestamptz NOT NULL,
                version integer,
                before jsonb,
                after jsonb,
                details jsonb NOT NULL DEFAULT '{{}}'
            )""",
            "CREATE INDEX history_record ON {s}.history(record_id, seq)",
            "CREATE INDEX history_user ON {s}.history(user_id)",
            # BM25: one posting per (token, record) with its count and the record's length, keyed by owner so a
            # user's postings are one index range; document frequencies and the totals for IDF and avgdl.
            """CREATE TABLE {s}.postings(
                term text NOT NULL,
                owner bigint NOT NULL,               -- a 64-bit digest of the user id
                seq bigint NOT NULL REFERENCES {s}.records(seq) ON DELETE CASCADE,
                tf integer NOT NULL,
                dl integer NOT NULL,
                PRIMARY KEY (term, owner, seq) INCLUDE (tf, dl)
            )""",
            "CREATE INDEX postings_seq ON {s}.postings(seq)",
            "CREATE TABLE {s}.terms(term text PRIMARY KEY, df bigint NOT NULL)",
            """CREATE TABLE {s}.lexical_totals(
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                docs bigint NOT NULL,
                tokens bigint NOT NULL
            )""",
            "INSERT INTO {s}.lexical_totals(docs, tokens) VALUES (0, 0)",
        ),
    ),
    Migration(
        2,
        "provenance both ways (`linking`): the ids a record cites or is superseded by, indexed",
        (
            "CREATE INDEX records_sources ON {s}.records USING gin ((body->'source_ids') jsonb_path_ops)",
            "CREATE INDEX records_superseded_by ON {s}.records ((body->>'superseded_by'))"
            " WHERE body->>'superseded_by' IS NOT NULL",
        ),
    ),
    Migration(
        3,
        "postings without a foreign key: every removal deletes a record's postings itself (`remove_postings`, which"
        " also corrects the document frequencies), so the cascade never fired, and its check cost every add",
        ("ALTER TABLE {s}.postings DROP CONSTRAINT IF EXISTS postings_seq_fkey",),
    ),
    Migration(
        4,
        "metadata filters: the records' metadata indexed for containment (values, `in`, `contains`); statistics"
        " on it at once, without which the planner takes every label for a rare one",
        (
            "CREATE INDEX records_metadata ON {s}.records USING gin ((body->'metadata') jsonb_path_ops)",
            "ANALYZE {s}.records",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version
# The schema lock: held by migrations and vector-table rebuilds, held shared by a write checking the vector space.
SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7091))"
SCHEMA_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 7091))"
VECTOR_SPACE = "SELECT value FROM {s}.meta WHERE key = 'embedder'"  # what the vector table was built for


class SchemaVersionError(MemoryStoreError):
    """The store's schema is newer than this version of Omne knows (upgrade Omne; nothing was changed)."""


def schema_lock_key(schema: str) -> tuple[str]:
    return (f"omne-schema:{schema}",)


def _statement(template: str, schema: str) -> sql.Composed:
    return sql.SQL(template).format(s=sql.Identifier(schema))


async def current_version(conn: AsyncConnection, schema: str) -> int:
    """The version the store's tables are at (0: none yet)."""
    row = await (
        await conn.execute(
            "SELECT to_regclass(format('%%I.schema_version', %s::text)) IS NOT NULL", (schema,)
        )
    ).fetchone()
    if not row or not row[0]:
        return 0
    row = await (await conn.execute(_statement("SELECT max(version) FROM {s}.schema_version", schema))).fetchone()
    return int(row[0] or 0) if row else 0


async def migrate(conn: AsyncConnection, schema: str, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the schema to the latest version in place; returns the versions applied (none when current)."""
    applied: list[int] = []
    latest = migrations[-1].version
    async with conn.transaction():
        # One opener at a time per schema; the lock ends with the transaction.
        await conn.execute(SCHEMA_LOCK, schema_lock_key(schema))
        await conn.execute(_statement("CREATE SCHEMA IF NOT EXISTS {s}", schema))
        await conn.execute(
            _statement(
                "CREATE TABLE IF NOT EXISTS {s}.schema_version("
                "version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                schema,
            )
        )
        version = await current_version(conn, schema)
        if version > latest:
            raise SchemaVersionError(
                f"the memory schema {schema!r} is at version {version}, newer than this Omne knows ({latest}): "
                "upgrade Omne to open it"
            )
        for step in migrations:
            if step.version <= version:
                continue
            for statement in step.statements:
                await conn.execute(_statement(statement, schema))
            await conn.execute(
                _statement("INSERT INTO {s}.schema_version(version, description) VALUES (%s, %s)", schema),
                (step.version, step.description),
            )
            applied.append(step.version)
    return applied


async def ensure_vectors(
    conn: AsyncConnection, schema: str, embedder: str, dimension: int, m: int, ef_construction: int
) -> bool:
    """Create the vector table for this embedding model (HNSW, cosine); for another model than the one the
    table was built for, drop its vectors and rebuild it. True when every record must be (re-)embedded."""
    async with conn.transaction():
        await conn.execute(SCHEMA_LOCK, schema_lock_key(schema))
        row = await (
            await conn.execute(_statement(VECTOR_SPACE, schema))
        ).fetchone()
        if row is not None and row[0] == embedder:
            return False
        await conn.execute(_statement("DROP TABLE IF EXISTS {s}.vectors", schema))
        await conn.execute(
            sql.SQL(
                "CREATE TABLE {s}.vectors("
                "seq bigint PRIMARY KEY REFERENCES {s}.records(seq) ON DELETE CASCADE, "
                "embedding vector({d}) NOT NULL)"
            ).format(s=sql.Identifier(schema), d=sql.Literal(dimension))
        )
        await conn.execute(
            sql.SQL(
                "CREATE INDEX vectors_hnsw ON {s}.vectors USING hnsw (embedding vector_cosine_ops)"
                " WITH (m = {m}, ef_construction = {ef})"
            ).format(s=sql.Identifier(schema), m=sql.Literal(m), ef=sql.Literal(max(ef_construction, 2 * m)))
        )
        await conn.execute(
            _statement(
                "INSERT INTO {s}.meta(key, value) VALUES ('embedder', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                schema,
            ),
            (embedder,),
        )
        return row is not None or bool(
            await (await conn.execute(_statement("SELECT 1 FROM {s}.records LIMIT 1", schema))).fetchone()
        )
