r"""Collapse guard: the dominant eigenvalue of the validation-loss Hessian with respect to α.

RobustDARTS (Zela et al., ICLR 2020) observed that when DARTS degenerates (e.g. to parameter-free
candidates) the validation loss lands in a sharp region of α-space: the largest eigenvalue
:math:`\lambda_{max}` of :math:`\nabla^2_\alpha L_{val}` grows, and the discretised architecture (α
pushed to a one-hot corner) then performs much worse than the supernet suggests. Two tools here:

* :func:`dominant_eigenvalue` estimates :math:`\lambda_{max}` by power iteration with exact
  Hessian-vector products (double backward; the fused aggregation kernel is twice differentiable,
  see ``docs/kernels.md``); it never forms the Hessian.
* :class:`EigenvalueMonitor` records the values (log them to TensorBoard) and decides an early stop
  when the eigenvalue has risen by ``factor`` over its early value.

A caution for collaborative filtering: there, identity transforms and linear propagation (LightGCN) are
genuinely strong, so a "light" found architecture is not by itself a sign of collapse; the eigenvalue
watches the sharpness of the α landscape, not which candidates won.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from .unrolled import _RngReplay

__all__ = ["dominant_eigenvalue", "hessian_vector_product", "EigenvalueMonitor", "EigenvalueGuard"]


def _dot(xs: Sequence[Tensor], ys: Sequence[Tensor]) -> Tensor:
    return sum((x * y).sum() for x, y in zip(xs, ys))


def hessian_vector_product(grads: Sequence[Tensor], params: Sequence[Tensor],
                           vec: Sequence[Tensor]) -> list[Tensor]:
    """``H @ vec`` given ``grads`` of a loss w.r.t. ``params`` computed with ``create_graph=True``."""
    hv = torch.autograd.grad(_dot(grads, vec), list(params), retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if h is None else h.detach() for p, h in zip(params, hv)]


def _power_iteration(hvp: Callable[[list[Tensor]], list[Tensor]], v: list[Tensor], iters: int,
                     tol: float) -> float:
    """Power iteration from the unit vector ``v``; the last Rayleigh quotient."""
    estimate = math.nan
    for _ in range(iters):
        hv = hvp(v)
        new = _dot(v, hv).item()
        hnorm = torch.sqrt(_dot(hv, hv)).item()
        if not math.isfinite(new) or not math.isfinite(hnorm):
            return math.nan
        if hnorm == 0.0:
            return 0.0
        v = [h / hnorm for h in hv]
        converged = math.isfinite(estimate) and abs(new - estimate) <= tol * max(abs(new), 1e-12)
        estimate = new
        if converged:
            break
    return float(estimate)


def dominant_eigenvalue(loss_fn: Callable[[], Tensor], params: list[Tensor], iters: int = 20,
                        tol: float = 1e-3, seed: int = 0, which: str = "largest",
                        generators: Sequence[torch.Generator] = ()) -> float:
    r"""The dominant eigenvalue of the Hessian of ``loss_fn()`` w.r.t. ``params``, by power iteration.

    Power iteration :math:`v \leftarrow Hv / \lVert Hv \rVert` from a seeded random start, with the
    Rayleigh quotient :math:`v^\top H v` as the estimate; stops after ``iters`` products or when two
    consecutive estimates differ by less than ``tol`` relative. The Hessian is of all ``params``
    jointly (one block matrix; pass the α tensors of a supernet).

    ``which``: ``"largest"`` (default) returns :math:`\lambda_{max}`, the largest eigenvalue (the
    RobustDARTS quantity): when the eigenvalue of largest magnitude is negative, a second power
    iteration on :math:`H - \lambda I` finds :math:`\lambda_{max}`. ``"magnitude"`` returns the
    eigenvalue of largest magnitude, with its sign.

    Hessian-vector products are exact, by double backward through one evaluation of ``loss_fn``
    (``H v = d<g, v>/dp`` with ``g`` the gradient built with ``create_graph=True``). Random draws
    inside ``loss_fn`` (e.g. Gumbel noise) come from the global RNG and ``generators`` as they were at
    entry.

    ``loss_fn`` should evaluate the loss on a fixed batch (the validation batch). Returns 0.0 when the
    Hessian is zero along the iterates, ``nan`` when the loss or a product is not finite. Nothing is
    written to ``.grad``; the start vector comes from its own generator, and the global RNG and
    ``generators`` are left as they were at entry (measuring does not shift the search's random
    streams).
    """
    params = list(params)
    if iters < 1:
        raise ValueError(f"dominant_eigenvalue: iters must be >= 1, got {iters}")
    if which not in ("largest", "magnitude"):
        raise ValueError(f"dominant_eigenvalue: which must be 'largest' or 'magnitude', got {which!r}")
    rng = _RngReplay(generators)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p) for p in params]
    norm = torch.sqrt(_dot(v, v))
    v = [x / norm for x in v]
    try:
        hvp, known = _autograd_hvp(loss_fn, params, rng)
        if hvp is None:
            return known  # 0.0 (linear loss) or nan
        lam = _power_iteration(hvp, v, iters, tol)
        if which == "largest" and math.isfinite(lam) and lam < 0:
            # lam is the most negative eigenvalue: H - lam I is PSD, its top eigenvalue is lmax - lam
            mu = _power_iteration(lambda u: [h - lam * x for h, x in zip(hvp(u), u)], v, iters, tol)
            lam = mu + lam if math.isfinite(mu) else mu
        return float(lam)
    finally:
        rng.restore()


def _autograd_hvp(loss_fn, params, rng):
    """``(hvp, None)`` by double backward; ``(None, value)`` when the answer is known (0.0 or nan)."""
    rng.restore()
    loss = loss_fn()
    if not torch.isfinite(loss):
        return None, math.nan
    grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    if all(g is None or not g.requires_grad for g in grads):
        return None, 0.0  # the loss is linear (or constant) in params
    keep = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
    sub = [params[i] for i in keep]
    gsub = [grads[i] for i in keep]

    def hvp(u: list[Tensor]) -> list[Tensor]:
        out = [torch.zeros_like(p) for p in params]
        for i, h in zip(keep, hessian_vector_product(gsub, sub, [u[i] for i in keep])):
            out[i] = h
        return out

    return hvp, None


class EigenvalueMonitor:
    r"""Early stop when :math:`\lambda_{max}` rises by ``factor`` over its early value.

    Feed it one value per measurement with :meth:`update`. The *early* value is the mean of the first
    ``window`` measurements; the *current* value is the mean of the latest ``window`` measurements
    (means damp the noise of a single power iteration on one batch). :meth:`update` returns ``True``
    (and sets :attr:`stopped`) once at least ``2 * window`` measurements exist and
    ``current > factor * early``. RobustDARTS then returns the architecture from before the rise:
    :attr:`rollback_epoch` is the epoch of the last measurement before the current window.

    Non-finite values are recorded but not used in the means; an early value <= 0 never triggers a
    stop (a ratio against it means nothing). ``factor <= 0`` disables stopping (values are still
    recorded, e.g. for TensorBoard). The state round-trips through :meth:`state_dict` for resume.
    """

    def __init__(self, factor: float = 1.3, window: int = 2) -> None:
        if window < 1:
            raise ValueError(f"EigenvalueMonitor: window must be >= 1, got {window}")
        self.factor = float(factor)
        self.window = int(window)
        self.epochs: list[int] = []
        self.values: list[float] = []
        self.stopped = False
        self.stop_epoch: int | None = None
        self.rollback_epoch: int | None = None

    @property
    def enabled(self) -> bool:
        return self.factor > 0

    def _finite(self) -> list[tuple[int, float]]:
        return [(e, v) for e, v in zip(self.epochs, self.values) if math.isfinite(v)]

    @property
    def early(self) -> float | None:
        """Mean of the first ``window`` finite values (``None`` until there are that many)."""
        f = self._finite()
        return sum(v for _, v in f[:self.window]) / self.window if len(f) >= self.window else None

    @property
    def current(self) -> float | None:
        """Mean of the latest ``window`` finite values (``None`` until there are that many)."""
        f = self._finite()
        return sum(v for _, v in f[-self.window:]) / self.window if len(f) >= self.window else None

    @property
    def ratio(self) -> float | None:
        """``current / early`` when both exist and ``early > 0``."""
        e, c = self.early, self.current
        return c / e if e is not None and c is not None and e > 0 else None

    def update(self, epoch: int, value: float) -> bool:
        """Record ``value`` measured at ``epoch``; ``True`` when the search should stop now."""
        self.epochs.append(int(epoch))
        self.values.append(float(value))
        if self.stopped:
            return True
        f = self._finite()
        if not self.enabled or len(f) < 2 * self.window:
            return False
        r = self.ratio
        if r is not None and r > self.factor:
            self.stopped = True
            self.stop_epoch = int(epoch)
            self.rollback_epoch = f[-self.window - 1][0]
            return True
        return False

    def state_dict(self) -> dict:
        return {"factor": self.factor, "window": self.window, "epochs": list(self.epochs),
                "values": list(self.values), "stopped": self.stopped,
                "stop_epoch": -1 if self.stop_epoch is None else self.stop_epoch,
                "rollback_epoch": -1 if self.rollback_epoch is None else self.rollback_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.epochs = [int(e) for e in state["epochs"]]
        self.values = [float(v) for v in state["values"]]
        self.stopped = bool(state["stopped"])
        self.stop_epoch = None if state["stop_epoch"] < 0 else int(state["stop_epoch"])
        self.rollback_epoch = None if state["rollback_epoch"] < 0 else int(state["rollback_epoch"])

    def __repr__(self) -> str:
        return (f"EigenvalueMonitor(factor={self.factor}, window={self.window}, "
                f"n={len(self.values)}, ratio={self.ratio}, stopped={self.stopped})")


class EigenvalueGuard:
    """Searcher epoch hook (``hook(searcher, epoch, record) -> stop``) around an
    :class:`EigenvalueMonitor`.

    It reads ``record["hessian/eigenvalue"]`` (the searcher measures it every ``search.guard.every``
    epochs), feeds the monitor, adds ``hessian/ratio`` (current / early) to the record and returns
    ``True`` when the monitor says stop. With ``rollback`` (default) it then sets α back to its
    snapshot at the monitor's :attr:`~EigenvalueMonitor.rollback_epoch` (taken from
    ``searcher.trajectory``), so the derived genotype is the one from before the eigenvalue rose, as
    RobustDARTS prescribes. ``state_dict`` / ``load_state_dict`` carry the monitor for resume.
    """

    KEY = "hessian/eigenvalue"

    def __init__(self, monitor: EigenvalueMonitor, rollback: bool = True) -> None:
        self.monitor = monitor
        self.rollback = rollback

    def __call__(self, searcher, epoch: int, record: dict) -> bool:
        value = record.get(self.KEY)
        if value is None:
            return self.monitor.stopped
        was_stopped = self.monitor.stopped
        stop = self.monitor.update(epoch, float(value))
        ratio = self.monitor.ratio
        if ratio is not None:
            record["hessian/ratio"] = ratio
            writer = getattr(getattr(searcher, "logger", None), "writer", None)
            if writer is not None and hasattr(writer, "add_scalar"):
                writer.add_scalar("search/hessian_ratio", ratio, epoch)
        if stop and not was_stopped:
            record["hessian/stopped"] = True
            target = self.monitor.rollback_epoch
            msg = (f"eigenvalue guard: the dominant Hessian eigenvalue rose {ratio:.2f}x over its early "
                   f"value (factor {self.monitor.factor}) at epoch {epoch}; stopping the search")
            if self.rollback and target is not None and self._restore(searcher, target):
                msg += f" and returning to alpha of epoch {target}"
                record["hessian/rollback_epoch"] = target
            logging.getLogger("darts_gnn.search").warning(msg)
        return stop

    @staticmethod
    def _restore(searcher, epoch: int) -> bool:
        snaps = [s for s in getattr(searcher, "trajectory", []) if s.get("epoch") == epoch]
        if not snaps:
            return False
        alpha = snaps[-1]["alpha"]
        with torch.no_grad():
            for name, p in searcher.model.named_arch_parameters():
                if name in alpha:
                    p.copy_(torch.as_tensor(alpha[name], dtype=p.dtype, device=p.device))
        return True

    def state_dict(self) -> dict:
        return {"monitor": self.monitor.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.monitor.load_state_dict(state["monitor"])
