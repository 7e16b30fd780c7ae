"""Diversity in the final ranking (maximal marginal relevance): a slot that shows nearly what a higher slot shows
already gives way to one that shows something else.

Slots are picked greedily, best first. Each remaining slot's score loses `weight` x how far its closest embedding
cosine to the slots picked so far exceeds `threshold` (scaled to 0..1), and the best adjusted score is picked
next. A slot's embeddings are its record's and those of the sources it carries; a slot without any is never
lowered and lowers nothing. Off (`MemorySettings.diversity_weight` 0) the ranking is untouched.

Measured on LoCoMo dev (`bench/locomo_weights.py --knobs diversity_weight,diversity_threshold`): the list
questions it was meant for do gain a little, single-hop questions lose as much, so it is off by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .expansion import Unit
from .vectormath import unit_rows


@dataclass(frozen=True)
class Resemblance:
    """Why a slot was lowered: the higher slot (its record id) it resembles most, their cosine, the penalty."""

    like: str
    cosine: float
    penalty: float


def diversify(
    units: Sequence[Unit],
    vectors: Mapping[str, Sequence[float]],
    weight: float,
    threshold: float,
    limit: int | None,
) -> list[tuple[Unit, Resemblance | None]]:
    """The best `limit` of `units` (ranked best first) in maximal-marginal-relevance order, each with what lowered
    it (None: nothing). A unit's score becomes its score less its penalty, so scores still fall slot by slot."""
    count = len(units) if limit is None else min(limit, len(units))
    if not weight or count == 0:
        return [(unit, None) for unit in units[:count]]
    owner, matrix = _rows(units, vectors)
    closest = np.full(len(units), -1.0)  # per unit: its highest cosine to any unit picked so far
    like: list[str | None] = [None] * len(units)  # ... and that unit's record id
    left = list(range(len(units)))
    out: list[tuple[Unit, Resemblance | None]] = []
    for _ in range(count):
        penalties = weight * np.maximum(0.0, closest[left] - threshold) / (1.0 - threshold)
        adjusted = [units[i].score - penalty for i, penalty in zip(left, penalties, strict=True)]
        best = max(range(len(left)), key=lambda j: (adjusted[j], -j))  # ties keep the ranked order
        picked = left.pop(best)
        unit, penalty = units[picked], float(penalties[best])
        why = None
        if penalty > 0 and (resembled := like[picked]) is not None:
            unit.score -= penalty
            why = Resemblance(resembled, float(closest[picked]), penalty)
        out.append((unit, why))
        mine = matrix[owner == picked]
        if len(mine):  # every unit's closest cosine to this one, then keep the higher
            to_picked = np.full(len(units), -1.0)
            np.maximum.at(to_picked, owner, (matrix @ mine.T).max(axis=1))
            closer = to_picked > closest
            closest[closer] = to_picked[closer]
            for i in np.flatnonzero(closer):
                like[i] = unit.record_id
    return out


def _rows(units: Sequence[Unit], vectors: Mapping[str, Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """All slots' unit vectors (each slot's record and the sources it carries, those with a vector) as rows, and
    the slot each row belongs to."""
    owner, found = [], []
    for i, unit in enumerate(units):
        for rid in (unit.record_id, *(source.id for source in unit.sources)):
            if rid in vectors:
                owner.append(i)
                found.append(vectors[rid])
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.float32)
    return np.asarray(owner, dtype=np.int64), unit_rows(found)


__all__ = ["Resemblance", "diversify"]
