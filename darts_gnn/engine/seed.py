"""Seeding helper: one call makes a CPU run repeatable."""
from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Call it before building a model (initial weights come from torch's global generator) and again
    before training; :meth:`darts_gnn.engine.train.Trainer.fit` does the latter itself with ``cfg.seed``.
    With the same seed, CPU runs give bit-identical numbers (checked in ``tests/test_train.py``);
    no deterministic-algorithms switch is needed for the ops darts-gnn uses on CPU.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
