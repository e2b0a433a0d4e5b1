r"""Collectives of a data-parallel run: global-batch gradients, agreed decisions, identical α.

**Gradients** (:class:`GradSync`). The losses of darts-gnn are means over the rows of a batch (plus
terms such as α's regulariser that do not depend on the batch). With the global batch of ``B`` rows
split into slices of ``b_r`` rows (:mod:`darts_gnn.distributed.sampler`), the gradient of the global
batch is

.. math::
    g = \sum_r \frac{b_r}{B}\, g_r, \qquad B = \sum_r b_r,

where :math:`g_r` is rank ``r``'s gradient of the mean loss over its slice. :meth:`GradSync.reduce`
computes it with *one* all-reduce (sum) of the flat vector :math:`[b_r g_r, b_r \ell_r, b_r]` and a
division by the reduced :math:`B`; the loss values :math:`\ell_r` come out as the global-batch
loss. Every rank receives the same bits (the all-reduce sends one reduced buffer to all), so the
optimiser steps stay identical across ranks. A rank with an empty slice contributes zeros. The
result equals the one-process gradient up to float reduction order (about 1e-7 relative in float32).

**Decisions** (:func:`agree`): anything decided from wall time (budgets, deadlines) is taken from
rank 0, so that no rank stops while another goes on.

**α check** (:func:`check_identical`): a SHA-256 of the bytes of tensors, all-gathered; ranks whose
hash differs from rank 0's raise :class:`DivergedRanksError`.

A rank that died, or a collective that timed out, raises :class:`RankLostError` (an interruption:
exit 143, the run directory marked ``interrupted``, resumable with ``--resume``).
"""
from __future__ import annotations

import contextlib
import hashlib
import pickle
from typing import Any, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import Interrupted
from .context import active, rank, world_size

__all__ = ["GradSync", "grad_sync", "agree", "broadcast_object", "check_identical", "tensor_digest",
           "gather_rows", "shard_range", "RankLostError", "DivergedRanksError"]


class RankLostError(Interrupted):
    """Another rank died or a collective timed out: this rank stops (exit 143, resumable)."""

    def __init__(self, message: str):
        import signal
        super().__init__(signal.SIGTERM)
        self.reason = message

    def __str__(self) -> str:
        return self.reason


class DivergedRanksError(RuntimeError):
    """Tensors that must be identical on every rank (α) differ between ranks."""


@contextlib.contextmanager
def collective(what: str) -> Iterator[None]:
    """Turn a failed collective (peer gone, timeout) into :class:`RankLostError` naming ``what``."""
    try:
        yield
    except RuntimeError as e:
        text = " ".join(str(e).split())
        text = text.split("] ", 1)[-1][:100]  # gloo prefixes its source location
        raise RankLostError(f"rank {rank()} of {world_size()}: lost the other ranks during {what} ({text}): "
                            f"another rank died or timed out, so this one stops too") from e


class GradSync:
    """Global-batch gradients of a data-parallel step (see the module docstring)."""

    def reduce(self, params: Sequence[Tensor], n: int, values: Sequence[float] = (),
               grads: Sequence[Tensor | None] | None = None, what: str = "a gradient all-reduce"
               ) -> tuple[list[Tensor | None], list[float]]:
        """All-reduce ``grads`` (default: each ``p.grad``) of a local slice of ``n`` rows into the
        global-batch gradients, and ``values`` (local mean losses) into the global ones.

        Returns ``(grads, values)``: one tensor per parameter (``None`` where the local gradient was
        ``None``) and the global values. With ``grads=None`` the results are also written to ``.grad``.
        """
        params = list(params)
        local = [p.grad for p in params] if grads is None else list(grads)
        ref = next((p for p in params if p.is_floating_point()), None)
        dtype = ref.dtype if ref is not None else torch.float32
        device = ref.device if ref is not None else torch.device("cpu")
        numel = [p.numel() for p in params]
        buf = torch.zeros(sum(numel) + len(values) + 1, dtype=dtype, device=device)
        if n > 0:
            off = 0
            for p, g, k in zip(params, local, numel):
                if g is not None:
                    buf[off:off + k] = g.detach().reshape(-1).to(dtype) * n
                off += k
            buf[off:off + len(values)] = torch.tensor([float(v) * n for v in values], dtype=dtype, device=device)
            buf[-1] = float(n)
        with collective(what):
            dist.all_reduce(buf)
        total = float(buf[-1])
        if total > 0:
            buf.div_(total)  # in place: the gradients below are views of this one buffer
        out: list[Tensor | None] = []
        off = 0
        for p, g, k in zip(params, local, numel):
            out.append(None if g is None else buf[off:off + k].view_as(p).to(p.dtype))
            off += k
        vals = [float(v) for v in buf[off:off + len(values)]]
        if grads is None:
            for p, g in zip(params, out):
                p.grad = g
        return out, vals

    def reducer(self, n: int, what: str):
        """``f(grads) -> grads``: :meth:`reduce` of a list of gradient tensors of a local slice of
        ``n`` rows (no values), e.g. for :func:`darts_gnn.search.unrolled.unrolled_arch_grads`."""
        def reduce(grads: Sequence[Tensor]) -> list[Tensor]:
            grads = list(grads)
            return self.reduce(grads, n, grads=grads, what=what)[0]
        return reduce


def grad_sync() -> GradSync | None:
    """A :class:`GradSync` in a data-parallel run, ``None`` in a one-process run."""
    return GradSync() if active() else None


def broadcast_object(obj: Any, src: int = 0, what: str = "a broadcast") -> Any:
    """``obj`` of rank ``src`` on every rank (identity in a one-process run)."""
    if not active():
        return obj
    box = [obj]
    with collective(what):
        dist.broadcast_object_list(box, src=src)
    return box[0]


def agree(decision: bool, what: str = "a stop decision") -> bool:
    """Rank 0's ``decision`` on every rank (for decisions taken from wall time)."""
    if not active():
        return bool(decision)
    t = torch.tensor([1 if decision else 0], dtype=torch.int64, device=_device())
    with collective(what):
        dist.broadcast(t, src=0)
    return bool(int(t.item()))


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def tensor_digest(tensors: Sequence[Tensor]) -> bytes:
    """SHA-256 of the dtype, shape and bytes of ``tensors`` in order (bit-level identity)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(pickle.dumps((str(t.dtype), tuple(t.shape))))
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()


def check_identical(tensors: Sequence[Tensor], what: str = "α") -> None:
    """Raise :class:`DivergedRanksError` unless ``tensors`` hold the same bits on every rank."""
    if not active():
        return
    mine = torch.frombuffer(bytearray(tensor_digest(tensors)), dtype=torch.uint8).to(torch.int64)
    out = [torch.empty_like(mine).to(_device()) for _ in range(world_size())]
    with collective(f"the identity check of {what}"):
        dist.all_gather(out, mine.to(_device()))
    bad = [r for r, d in enumerate(out) if not torch.equal(d.cpu(), out[0].cpu())]
    if bad:
        raise DivergedRanksError(f"{what} differs between ranks: ranks {bad} do not match rank 0 bit for bit; "
                                 f"the ranks would derive different architectures (a reduction that is not "
                                 f"identical on every rank, or a rank-dependent random draw)")


def shard_range(n: int) -> tuple[int, int]:
    """``[lo, hi)``: this rank's contiguous part of ``n`` items (all of them in a one-process run)."""
    r, w = rank(), world_size()
    return n * r // w, n * (r + 1) // w


def gather_rows(local: dict[str, Tensor], what: str = "an evaluation gather") -> dict[str, Tensor]:
    """Concatenate, in rank order, each rank's ``[n_r, ...]`` tensors under the same keys
    (identity in a one-process run); with :func:`shard_range` this restores the global order."""
    if not active():
        return local
    with collective(what):
        parts: list[Any] = [None] * world_size()
        dist.all_gather_object(parts, {k: v.detach().cpu() for k, v in local.items()})
    return {k: torch.cat([p[k] for p in parts]) for k in local}
