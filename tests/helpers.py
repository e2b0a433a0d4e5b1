"""Small builders shared by several test modules (fixtures live in conftest.py)."""
from __future__ import annotations

import numpy as np

from darts_gnn.data import Dataset, Graph


def tiny(seed=0, U=30, I=40, n=400):
    """A random ``U x I`` data set of about ``n`` pairs split 70/10/20, and its training graph."""
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.stack([rng.integers(0, U, n), rng.integers(0, I, n)], 1), axis=0)
    rng.shuffle(pairs)
    k = len(pairs)
    ds = Dataset("tiny", U, I, pairs[: int(0.7 * k)], pairs[int(0.7 * k): int(0.8 * k)], pairs[int(0.8 * k):])
    return ds, Graph.from_dataset(ds, "train")


def set_args(settings) -> list[str]:
    """``["--set", s1, "--set", s2, ...]`` for the CLI."""
    out: list[str] = []
    for s in settings:
        out += ["--set", s]
    return out
