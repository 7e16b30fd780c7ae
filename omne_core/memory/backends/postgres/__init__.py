"""The PostgreSQL + pgvector backend: one schema per store; records, history, BM25 postings and vectors in one
database. Needs the `postgres` extra (psycopg, pgvector); imported only when `store.backend` is `postgres`."""

from .backend import PostgresBackend
from .pool import PostgresUnavailableError
from .schema import SchemaVersionError

__all__ = ["PostgresBackend", "PostgresUnavailableError", "SchemaVersionError"]
