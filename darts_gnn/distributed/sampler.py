"""Split every global batch of an epoch across ranks, deterministically.

Rank ``r`` of ``R`` takes rows ``[B*r//R, B*(r+1)//R)`` of each global batch of ``B`` rows: the
slices of the ranks are disjoint, in rank order, and their union (concatenated) is the global batch,
so the union of an epoch over the ranks is exactly the one-process epoch. A global batch smaller than
``R`` leaves some ranks an empty slice (``[0]`` rows); :class:`~darts_gnn.distributed.GradSync`
gives such a rank zero weight.

:class:`ShardedBatches` wraps *any* per-epoch batch iterable (the
:class:`~darts_gnn.data.BPRSampler`, a task's own sampler, a generator): every pass over the source
is one epoch, every element a tensor or a tuple, list or dict of tensors whose first dimension is
the batch.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import torch

from .context import rank as _rank, world_size as _world_size

__all__ = ["shard_bounds", "shard_batch", "ShardedBatches", "shard_batches"]


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(lo, hi)``: rank ``rank``'s rows of a global batch of ``n`` rows (``hi - lo`` is
    ``n // world_size`` or one more)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"shard_bounds: rank {rank} is not in 0..{world_size - 1}")
    return n * rank // world_size, n * (rank + 1) // world_size


def shard_batch(batch: Any, rank: int, world_size: int) -> Any:
    """Rank ``rank``'s slice of one global batch: a tensor ``[B, ...]``, or a tuple, list or dict
    of them (all of the same ``B``)."""
    if isinstance(batch, torch.Tensor):
        lo, hi = shard_bounds(batch.size(0), rank, world_size)
        return batch[lo:hi]
    values = list(batch.values()) if isinstance(batch, dict) else batch
    if not isinstance(values, (tuple, list)) or not values or not all(isinstance(t, torch.Tensor) for t in values):
        raise TypeError(f"shard_batch: expected a tensor, or a tuple, list or dict of tensors, got "
                        f"{type(batch).__name__}")
    sizes = {int(t.size(0)) for t in values}
    if len(sizes) != 1:
        raise ValueError(f"shard_batch: the tensors of one batch have different lengths {sorted(sizes)}")
    lo, hi = shard_bounds(sizes.pop(), rank, world_size)
    if isinstance(batch, dict):
        return {k: t[lo:hi] for k, t in batch.items()}
    return type(batch)(t[lo:hi] for t in batch)


class ShardedBatches:
    """Rank ``rank``'s slices of the batches of ``source`` (see the module docstring).

    Iterating it iterates ``source`` once (one epoch) and yields one slice per global batch, so the
    number of steps per epoch is the same on every rank. ``len()``, ``epoch(e)`` (when the source
    has one) and every other attribute pass through to the source.
    """

    def __init__(self, source: Iterable, rank: int | None = None, world_size: int | None = None):
        self.source = source
        self.rank = _rank() if rank is None else int(rank)
        self.world_size = _world_size() if world_size is None else int(world_size)
        shard_bounds(0, self.rank, self.world_size)  # validates rank / world_size

    def _shard(self, batches: Iterable) -> Iterator:
        for batch in batches:
            yield shard_batch(batch, self.rank, self.world_size)

    def __iter__(self) -> Iterator:
        return self._shard(self.source)

    def epoch(self, e: int) -> Iterator:
        """This rank's slices of ``source.epoch(e)``."""
        return self._shard(self.source.epoch(e))

    def __len__(self) -> int:
        return len(self.source)

    def __getattr__(self, name: str) -> Any:
        if name == "source":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.source, name)

    def __repr__(self) -> str:
        return f"ShardedBatches({self.source!r}, rank={self.rank}, world_size={self.world_size})"


def shard_batches(source: Iterable) -> Iterable:
    """``source`` itself in a one-process run, else :class:`ShardedBatches` for this rank."""
    if _world_size() == 1 or isinstance(source, ShardedBatches):
        return source
    return ShardedBatches(source)
