"""How a PostgreSQL batch add cuts its batch into parts (`write_parts`): each part is written while the next one
encodes, so every record is in exactly one part, parts go from the longest texts down, and they end halving to a
small last part (written with nothing encoding beside it)."""

from __future__ import annotations

import random

import pytest

from omne_core.memory.backends.postgres.backend import _LAST_PART, write_parts


@pytest.mark.parametrize("size", [1, 2, 5, 8, 16, 64, 100])
def test_parts_cover_the_batch_once_longest_first_and_end_halving_to_a_small_last_part(size):
    rng = random.Random(seed := random.randrange(10**6))
    for _ in range(50):
        lengths = [rng.randint(1, 400) for _ in range(rng.randint(0, 700))]
        parts = write_parts(lengths, size)
        assert sorted(i for part in parts for i in part) == list(range(len(lengths))), seed
        assert all(part == sorted(part) and 0 < len(part) <= size for part in parts), seed  # input order inside
        for earlier, later in zip(parts, parts[1:], strict=False):  # from the longest texts down
            assert min(lengths[i] for i in earlier) >= max(lengths[i] for i in later), seed
        if not parts:
            continue
        sizes = [len(part) for part in parts]
        # the last part is small and each part before it at most twice the next (the head: at most `size`)
        assert all(s <= 2**back * _LAST_PART for back, s in enumerate(reversed(sizes))), (seed, sizes)
        assert len(parts) <= -(-len(lengths) // size) + max(1, size // _LAST_PART).bit_length(), (seed, sizes)


def test_a_batch_of_250_in_parts_of_64_is_cut_as_documented():
    sizes = [len(part) for part in write_parts([100 - i % 50 for i in range(250)], 64)]
    assert sizes == [49, 49, 48, 48, 32, 16, 8]
