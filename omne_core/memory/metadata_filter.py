"""Conditions on a record's top-level metadata, as `search(..., metadata=...)` and `list` take them, checked once
here; each backend renders `MetadataCondition`s in its own SQL, and `holds` checks one on a loaded record.

`{"project": "apollo"}` asks for exactly that JSON scalar under that key (numbers compare as numbers, so 2 is 2.0;
a boolean is no number; a list holding the value is not the value). An operator object asks for more:
`{"project": {"in": ["apollo", "zeus"]}}` (any of these values), `{"priority": {"gte": 2, "lt": 5}}` (a number in a
range: `gt`, `gte`, `lt`, `lte`), `{"tags": {"contains": "urgent"}}` (a list holding the value), and the
negations `{"status": {"ne": "archived"}}`, `{"status": {"nin": [...]}}` (the key does not hold that scalar: a
missing key meets them, as Mem0's must-not filters). A missing key meets no other condition. Conditions on several
keys, or several operators on one key, must all hold.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import MemoryValidationError

MetadataValue = str | int | float | bool
MetadataFilter = Mapping[str, Any]  # key -> a value, or an operator object
MetadataConditions = dict[str, Any]  # the same in pydantic models: JSON values keep their type (1 ≠ "1"); checked here
Operator = Literal["eq", "in", "gt", "gte", "lt", "lte", "contains", "ne", "nin"]
OPERATORS: tuple[Operator, ...] = ("in", "gt", "gte", "lt", "lte", "contains", "ne", "nin")
NEGATED: dict[Operator, Operator] = {"ne": "eq", "nin": "in"}  # a negation and the condition it denies
MAX_METADATA_CONDITIONS = 16
MAX_IN_VALUES = 100
_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


@dataclass(frozen=True)
class MetadataCondition:
    """One condition: the record's metadata under `key` is one of `values` (eq: one value; in), a number beyond
    `values[0]` (gt, gte, lt, lte), a list holding `values[0]` (contains), or none of `values` (ne, nin)."""

    key: str
    op: Operator
    values: tuple[MetadataValue, ...]

    def denied(self) -> MetadataCondition | None:
        """For a negation (ne, nin), the condition it denies; else None."""
        op = NEGATED.get(self.op)
        return MetadataCondition(self.key, op, self.values) if op else None

    def holds(self, metadata: Mapping[str, Any]) -> bool:
        if (denied := self.denied()) is not None:
            return not denied.holds(metadata)
        if self.key not in metadata:
            return False
        stored, wanted = metadata[self.key], self.values[0]
        if self.op in ("eq", "in"):
            return any(scalar_equal(stored, v) for v in self.values)
        if self.op == "contains":
            return isinstance(stored, list) and any(scalar_equal(item, wanted) for item in stored)
        if not _number(stored) or not _number(wanted):
            return False
        return bool(_COMPARE[self.op](stored, wanted))


def scalar_equal(stored: Any, wanted: MetadataValue) -> bool:
    """Whether a stored value is the wanted scalar: the same string, the same boolean, or an equal number."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return stored is wanted
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    return _number(stored) and stored == wanted


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    """A JSON scalar both backends store and compare alike: a string, a boolean, a finite (64-bit if whole) number."""
    return (isinstance(value, str) or (isinstance(value, float) and math.isfinite(value))
            or (isinstance(value, int) and -(2**63) <= value < 2**63))  # fmt: skip


def normalize_metadata(metadata: Any) -> tuple[MetadataCondition, ...] | None:
    """The conditions of a `metadata` argument, each checked, in key order; a bad one is a `MemoryValidationError`
    naming it, before any work."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise MemoryValidationError(f"metadata must be a mapping of keys to conditions, got {type(metadata).__name__}")
    conditions: list[MetadataCondition] = []
    for key, wanted in sorted(metadata.items(), key=lambda item: str(item[0])):
        if not isinstance(key, str) or not key or len(key) > 200:
            raise MemoryValidationError(f"a metadata key must be a string of 1 to 200 characters, got {key!r}")
        if is_scalar(wanted):
            conditions.append(MetadataCondition(key, "eq", (wanted,)))
        elif isinstance(wanted, Mapping) and wanted:
            conditions.extend(_operators(key, wanted))
        else:
            raise MemoryValidationError(
                f"metadata condition of {key!r} must be a string, a finite number (64-bit if whole), a boolean or an "
                f"operator object ({', '.join(OPERATORS)}), got {wanted!r}"
            )
    if not conditions or len(conditions) > MAX_METADATA_CONDITIONS:
        raise MemoryValidationError(
            f"metadata must hold 1 to {MAX_METADATA_CONDITIONS} conditions, got {len(conditions)}"
        )
    return tuple(conditions)


def _operators(key: str, wanted: Mapping[Any, Any]) -> list[MetadataCondition]:
    out: list[MetadataCondition] = []
    for op, value in wanted.items():
        where = f"metadata condition {key!r}: {op!r}"
        if op in ("in", "nin"):
            listed = isinstance(value, list | tuple) and 1 <= len(value) <= MAX_IN_VALUES
            if not listed or not all(map(is_scalar, value)):
                raise MemoryValidationError(f"{where} takes a list of 1 to {MAX_IN_VALUES} strings, numbers or booleans")
            out.append(MetadataCondition(key, op, tuple(value)))
        elif op in _COMPARE:
            if not (_number(value) and is_scalar(value)):
                raise MemoryValidationError(f"{where} takes a finite number, got {value!r}")
            out.append(MetadataCondition(key, op, (value,)))
        elif op in ("contains", "ne"):
            if not is_scalar(value):
                raise MemoryValidationError(f"{where} takes a string, a number or a boolean, got {value!r}")
            out.append(MetadataCondition(key, op, (value,)))
        else:
            raise MemoryValidationError(f"{where} is no operator; one of: {', '.join(OPERATORS)}")
    return out


def parse_labels(pairs: Iterable[str], *, as_filter: bool) -> dict[str, Any]:
    """`key=value` texts (a command line's `--meta`, a form field) as metadata: a value that reads as a JSON number,
    boolean or quoted string is that (`priority=2`, `done=true`, `code="007"`), anything else is the text as
    written (`project=apollo`; a list, an object or NaN too). A key given twice holds the list of its values, or
    `as_filter`, asks for any of them (`{"in": [...]}`)."""
    found: dict[str, list[MetadataValue]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MemoryValidationError(f"{pair!r} is not key=value")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        found.setdefault(key, []).append(value if is_scalar(value) else raw)
    return {
        key: values[0] if len(values) == 1 else {"in": values} if as_filter else values for key, values in found.items()
    }


def parse_conditions(texts: Iterable[str]) -> dict[str, Any]:
    """Filter texts as a form field or `--meta` gives them: `key=value` (`parse_labels`: a key given twice asks for
    either value) or a JSON object of conditions as REST takes them (`{"priority": {"gte": 2}}`), all of them to
    hold; a key in two texts of different forms is an error, as is a text that is neither."""
    texts = list(texts)
    objects = [t for t in texts if t.lstrip().startswith("{")]
    conditions = parse_labels([t for t in texts if not t.lstrip().startswith("{")], as_filter=True)
    for text in objects:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise MemoryValidationError(f"{text!r} is not a JSON object ({exc.args[0]})") from None
        if not isinstance(parsed, dict):
            raise MemoryValidationError(f"{text!r} is not a JSON object")
        for key, condition in parsed.items():
            if key in conditions:
                raise MemoryValidationError(f"metadata key {key!r} is given twice; put its conditions in one object")
            conditions[key] = condition
    return conditions
