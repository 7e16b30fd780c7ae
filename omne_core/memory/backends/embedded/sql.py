"""A `RecordFilter` rendered as SQLite SQL over the `records` table (the embedded backend's only filter dialect)."""

from __future__ import annotations

from typing import Any

from ....records import SCOPE_FIELDS
from ...filters import MetadataValue, RecordFilter


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
    for key, value in where.metadata or ():
        clause, values = _metadata_condition(alias, key, value)
        clauses.append(clause)
        params.extend(values)
    return " AND ".join(clauses), params


def _metadata_condition(alias: str, key: str, value: MetadataValue) -> tuple[str, list[Any]]:
    """The record's metadata holds `value` under `key` (`filters.metadata_equal`): the key is a bound parameter
    matched against `json_each`'s keys, never spliced into a JSON path."""
    values: list[Any]
    if isinstance(value, bool):
        kind, values = "m.type = ?", ["true" if value else "false"]
    elif isinstance(value, str):
        kind, values = "m.type = 'text' AND m.value = ?", [value]
    else:
        kind, values = "m.type IN ('integer', 'real') AND m.value = ?", [value]
    return f"EXISTS (SELECT 1 FROM json_each({alias}.body, '$.metadata') m WHERE m.key = ? AND {kind})", [key, *values]
