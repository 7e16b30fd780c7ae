"""The PostgreSQL + pgvector backend: one schema per store, records, history, BM25 postings and vectors in one
database. Needs the `postgres` extra (psycopg, pgvector); imported only when that backend is chosen."""
