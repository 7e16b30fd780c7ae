"""A `RecordFilter` rendered as SQLite SQL over the `records` table (the embedded backend's only filter dialect),
and the `record_labels` rows its metadata conditions read (written with each record, so they are indexed).

A label row is (key, element, type, value): each top-level JSON scalar of a record's metadata (element 0), and each
scalar in a list under a key (element 1), typed `text`, `number` or `bool` (1 / 0) so that a text "1" is not the
number 1 and `true` is not 1, while 2 and 2.0 are one number (`metadata_filter.scalar_equal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ....records import SCOPE_FIELDS
from ...filters import RecordFilter
from ...metadata_filter import MetadataCondition, is_scalar


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
        clause, values = _metadata_condition(alias, condition, probe)
        clauses.append(clause)
        params.extend(values)
    return " AND ".join(clauses), params


_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _metadata_condition(alias: str, condition: MetadataCondition, probe: bool) -> tuple[str, list[Any]]:
    """One metadata condition (`MetadataCondition.holds`) over the `record_labels` index: the records whose label
    rows hold it (`probe`: each row checked by its seq, else the rows picked through the index). The key is a
    bound parameter, never SQL. A negation (ne, nin) is the records whose rows do not hold what it denies."""
    if (denied := condition.denied()) is not None:
        clause, params = _metadata_condition(alias, denied, probe)
        return f"NOT {clause}", params
    if condition.op in _COMPARE:
        test = f"l.element = 0 AND l.type = 'number' AND l.value {_COMPARE[condition.op]} ?"
        values: list[Any] = [condition.values[0]]
    else:  # eq, in: the value under the key; contains: an element of the list under it
        by_type: dict[str, list[Any]] = {}
        for value in condition.values:
            kind, stored = _typed(value)
            by_type.setdefault(kind, []).append(stored)
        either = " OR ".join(f"(l.type = ? AND l.value IN ({','.join('?' * len(v))}))" for v in by_type.values())
        test = f"l.element = {1 if condition.op == 'contains' else 0} AND ({either})"
        values = [x for kind, stored in by_type.items() for x in (kind, *stored)]
    if probe:
        return f"EXISTS (SELECT 1 FROM record_labels l WHERE l.seq = {alias}.seq AND l.key = ? AND {test})", [
            condition.key, *values
        ]  # fmt: skip
    return f"{alias}.seq IN (SELECT l.seq FROM record_labels l WHERE l.key = ? AND {test})", [condition.key, *values]


def label_rows(metadata: Mapping[str, Any]) -> list[tuple[str, int, str, Any]]:
    """A record's `record_labels` rows (key, element, type, value), without its seq."""
    rows: list[tuple[str, int, str, Any]] = []
    for key, value in metadata.items():
        if _json_scalar(value):
            rows.append((key, 0, *_typed(value)))
        elif isinstance(value, list):
            rows.extend((key, 1, *_typed(item)) for item in value if _json_scalar(item))
    return rows


def _json_scalar(value: Any) -> bool:
    return is_scalar(value) or isinstance(value, int)  # a stored integer past 64 bits too (`_typed`)


def _typed(value: str | int | float) -> tuple[str, Any]:
    """(type, stored value) of a JSON scalar; an integer past 64 bits is stored as the float SQLite's JSON reads."""
    if isinstance(value, bool):
        return "bool", int(value)
    if isinstance(value, str):
        return "text", value
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return "number", float(value)
    return "number", value
