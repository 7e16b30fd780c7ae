"""Vector arithmetic shared by exact scoring and consolidation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def unit_rows(vectors: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The vectors as float32 rows scaled to length 1 (zero rows stay zero): dot products become cosines."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)
