"""`RecordFilter` (scope union, kinds, time window, status, metadata values) as a PostgreSQL WHERE fragment over
`records`."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from psycopg import sql

from ....records import SCOPE_FIELDS
from ...filters import RecordFilter
from ...metadata_filter import MetadataCondition


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
    for condition in where.metadata or ():
        clause, values = _metadata_condition(alias, condition)
        clauses.append(clause)
        params.extend(values)
    return sql.SQL(" AND ").join(clauses), params


_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _metadata_condition(alias: str, condition: MetadataCondition) -> tuple[sql.Composable, list[Any]]:
    """One metadata condition (`MetadataCondition.holds`) over the record's jsonb: the key is a bound parameter
    (`->`, or a key of the contained object), never a path. jsonb compares numbers as numbers, so 2 is 2.0; a
    string, a boolean or a list is no number. A negation (ne, nin) is the records that do not hold what it denies."""
    if (denied := condition.denied()) is not None:
        clause, params = _metadata_condition(alias, denied)
        return sql.SQL("NOT COALESCE({}, FALSE)").format(clause), params
    value = sql.SQL("({} -> 'metadata' -> %s)").format(sql.Identifier(alias, "body"))
    wanted = condition.values
    if "\x00" in condition.key or any(isinstance(v, str) and "\x00" in v for v in wanted):
        return sql.SQL("FALSE"), []  # PostgreSQL's text and jsonb cannot hold a NUL, so no stored record does
    if condition.op in _COMPARE:
        test = sql.SQL("CASE WHEN jsonb_typeof({v}) = 'number' THEN ({v} #>> '{{}}')::numeric {op} %s::numeric ELSE FALSE END")
        return test.format(v=value, op=sql.SQL(_COMPARE[condition.op])), [condition.key, condition.key, wanted[0]]
    # eq, in: containment of {key: value} (a list holding the value does not contain it); contains: of
    # {key: [value]} (a list holding it; a scalar under the key or a nested list does not). The GIN index on the
    # metadata (migration 4) serves both.
    meta = sql.SQL("{} -> 'metadata'").format(sql.Identifier(alias, "body"))
    either = sql.SQL(" OR ").join(sql.SQL("{} @> %s::jsonb").format(meta) for _ in wanted)
    contained = [{condition.key: [v] if condition.op == "contains" else v} for v in wanted]
    return sql.SQL("({})").format(either), [json.dumps(c) for c in contained]
