"""`RecordFilter` (scope union, kinds, time window, status, metadata values) as a PostgreSQL WHERE fragment over
`records`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from psycopg import sql

from ....records import SCOPE_FIELDS
from ...filters import RecordFilter


def owner_key(user_id: str) -> int:
    """A user's 64-bit key in the postings (signed, as PostgreSQL's bigint): a user's postings are one range."""
    return int.from_bytes(hashlib.sha256(user_id.encode("utf-8")).digest()[:8], "big", signed=True)


def where_sql(where: RecordFilter, alias: str = "r") -> tuple[sql.Composed, list[Any]]:
    """The filter as SQL over `records` (aliased), with its parameters."""
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    scopes: list[sql.Composable] = []
    for scope in where.scopes:
        parts: list[sql.Composable] = []
        for name in SCOPE_FIELDS:
            value = getattr(scope, name)
            if value is not None:
                parts.append(sql.SQL("{} = %s").format(sql.Identifier(alias, name)))
                params.append(value)
        scopes.append(sql.SQL("(") + sql.SQL(" AND ").join(parts) + sql.SQL(")"))
    clauses.append(sql.SQL("(") + sql.SQL(" OR ").join(scopes) + sql.SQL(")"))
    if where.kinds is not None:
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(alias, "kind")))
        params.append([k.value for k in where.kinds])
    if where.since is not None:
        clauses.append(sql.SQL("{} >= %s").format(sql.Identifier(alias, "ts")))
        params.append(where.since.timestamp())
    if where.until is not None:
        clauses.append(sql.SQL("{} <= %s").format(sql.Identifier(alias, "ts")))
        params.append(where.until.timestamp())
    statuses = where.status_set()
    if statuses is not None:
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(alias, "status")))
        params.append([s.value for s in statuses])
    if where.metadata:  # jsonb containment: equal strings and booleans, numerically equal numbers
        wanted = json.dumps(dict(where.metadata))
        if "\\u0000" in wanted:  # jsonb cannot hold a NUL, so no stored record does (and the cast would fail)
            clauses.append(sql.SQL("FALSE"))
        else:
            clauses.append(sql.SQL("{} -> 'metadata' @> %s::jsonb").format(sql.Identifier(alias, "body")))
            params.append(wanted)
    return sql.SQL(" AND ").join(clauses), params
