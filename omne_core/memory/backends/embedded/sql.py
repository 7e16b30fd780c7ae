"""A `RecordFilter` rendered as SQLite SQL over the `records` table (the embedded backend's only filter dialect)."""

from __future__ import annotations

from typing import Any

from ....records import SCOPE_FIELDS
from ...filters import RecordFilter
from ...metadata_filter import MetadataCondition, MetadataValue


def filter_sql(where: RecordFilter, alias: str = "r", *, probe: bool = False) -> tuple[str, list[Any]]:
    """A WHERE fragment over the `records` table and its parameters.

    `probe`: the rows are already picked by key (a candidate list), so the fragment only checks each of
    them: its columns are written `+col`, which keeps SQLite from scanning a whole scope by its index.
    """
    col = f"+{alias}." if probe else f"{alias}."
    clauses: list[str] = []
    params: list[Any] = []
    ors: list[str] = []
    for scope in where.scopes:
        parts = []
        for name in SCOPE_FIELDS:
            value = getattr(scope, name)
            if value is not None:
                parts.append(f"{col}{name} = ?")
                params.append(value)
        ors.append("(" + " AND ".join(parts) + ")")
    clauses.append("(" + " OR ".join(ors) + ")")
    if where.kinds is not None:
        clauses.append(f"{col}kind IN ({','.join('?' * len(where.kinds))})")
        params.extend(k.value for k in where.kinds)
    if where.since is not None:
        clauses.append(f"{col}ts >= ?")
        params.append(where.since.timestamp())
    if where.until is not None:
        clauses.append(f"{col}ts <= ?")
        params.append(where.until.timestamp())
    statuses = where.status_set()
    if statuses is not None:
        clauses.append(f"{col}status IN ({','.join('?' * len(statuses))})")
        params.extend(s.value for s in statuses)
    for condition in where.metadata or ():
        clause, values = _metadata_condition(alias, condition)
        clauses.append(clause)
        params.extend(values)
    return " AND ".join(clauses), params


_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _metadata_condition(alias: str, condition: MetadataCondition) -> tuple[str, list[Any]]:
    """One metadata condition (`MetadataCondition.holds`) over `json_each` of the record's metadata: the key is a
    bound parameter matched against its keys, never spliced into a JSON path."""
    found = f"SELECT 1 FROM json_each({alias}.body, '$.metadata') m WHERE m.key = ?"
    if condition.op in _COMPARE:
        test = f"m.type IN ('integer', 'real') AND m.value {_COMPARE[condition.op]} ?"
        return f"EXISTS ({found} AND {test})", [condition.key, condition.values[0]]
    if condition.op == "contains":
        test, values = _is_value("t", condition.values[0])
        inner = f"m.type = 'array' AND EXISTS (SELECT 1 FROM json_each(m.value) t WHERE {test})"
        return f"EXISTS ({found} AND {inner})", [condition.key, *values]
    tests = [_is_value("m", v) for v in condition.values]  # eq, in
    either = " OR ".join(test for test, _ in tests)
    return f"EXISTS ({found} AND ({either}))", [condition.key, *(v for _, values in tests for v in values)]


def _is_value(alias: str, value: MetadataValue) -> tuple[str, list[Any]]:
    """A `json_each` row's value is this scalar (`metadata_filter.scalar_equal`)."""
    if isinstance(value, bool):
        return f"{alias}.type = ?", ["true" if value else "false"]
    if isinstance(value, str):
        return f"({alias}.type = 'text' AND {alias}.value = ?)", [value]
    return f"({alias}.type IN ('integer', 'real') AND {alias}.value = ?)", [value]
