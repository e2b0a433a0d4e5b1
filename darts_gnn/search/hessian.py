r"""Collapse guard: the dominant eigenvalue of the validation-loss Hessian with respect to α.

RobustDARTS (Zela et al., ICLR 2020) observed that when DARTS degenerates (e.g. to parameter-free
candidates) the validation loss lands in a sharp region of α-space: the largest eigenvalue
:math:`\lambda_{max}` of :math:`\nabla^2_\alpha L_{val}` grows, and the discretised architecture (α
pushed to a one-hot corner) then performs much worse than the supernet suggests. Two tools here:

* :func:`dominant_eigenvalue` estimates :math:`\lambda_{max}` by power iteration with
  Hessian-vector products (double backward, or finite differences of gradients where the fused
  aggregation kernel has no correct double backward); it never forms the Hessian.
* :class:`EigenvalueMonitor` records the values (log them to TensorBoard) and decides an early stop
  when the eigenvalue has risen by ``factor`` over its early value.

A caution for collaborative filtering: there, identity transforms and linear propagation (LightGCN) are
genuinely strong, so a "light" found architecture is not by itself a sign of collapse; the eigenvalue
watches the sharpness of the α landscape, not which candidates won.
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

log = logging.getLogger("darts_gnn.search")

__all__ = ["dominant_eigenvalue", "hessian_vector_product", "double_backward_ok", "twice_differentiable",
           "EigenvalueMonitor", "EigenvalueGuard"]




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


def _fd_hvp(loss_fn: Callable[[], Tensor], params: list[Tensor], eps: float, rng) -> Callable:
    """``v -> (g(p + h v) - g(p - h v)) / 2h`` with ``h = eps * max(1, |p|)``; ``params`` changed in
    place and restored exactly after each product."""
    scale = max(1.0, torch.sqrt(sum((p.detach().double() ** 2).sum() for p in params)).item())
    h = eps * scale

    def grads_at(v: list[Tensor], sign: float) -> list[Tensor]:
        with torch.no_grad():
            for p, b, x in zip(params, backup, v):
                p.copy_(b).add_(x, alpha=sign * h)
        rng.restore()
        g = torch.autograd.grad(loss_fn(), params, allow_unused=True)
        return [torch.zeros_like(p) if gi is None else gi.detach() for p, gi in zip(params, g)]

    backup = [p.detach().clone() for p in params]

    def hvp(v: list[Tensor]) -> list[Tensor]:
        try:
            gp, gm = grads_at(v, 1.0), grads_at(v, -1.0)
        finally:
            with torch.no_grad():
                for p, b in zip(params, backup):
                    p.copy_(b)
        return [(a - b) / (2 * h) for a, b in zip(gp, gm)]

    return hvp


def dominant_eigenvalue(loss_fn: Callable[[], Tensor], params: list[Tensor], iters: int = 20,
                        tol: float = 1e-3, seed: int = 0, method: str = "auto", which: str = "largest",
                        fd_eps: float = 1e-2, generators: Sequence[torch.Generator] = ()) -> float:
    r"""The dominant eigenvalue of the Hessian of ``loss_fn()`` w.r.t. ``params``, by power iteration.

    Power iteration :math:`v \leftarrow Hv / \lVert Hv \rVert` from a seeded random start, with the
    Rayleigh quotient :math:`v^\top H v` as the estimate; stops after ``iters`` products or when two
    consecutive estimates differ by less than ``tol`` relative. The Hessian is of all ``params``
    jointly (one block matrix; pass the α tensors of a supernet).

    ``which``: ``"largest"`` (default) returns :math:`\lambda_{max}`, the largest eigenvalue (the
    RobustDARTS quantity): when the eigenvalue of largest magnitude is negative, a second power
    iteration on :math:`H - \lambda I` finds :math:`\lambda_{max}`. ``"magnitude"`` returns the
    eigenvalue of largest magnitude, with its sign.

    Hessian-vector products (``method``):

    * ``"autograd"``: exact, by double backward through one evaluation of ``loss_fn``.
    * ``"fd"``: central differences of gradients, :math:`(g(p + hv) - g(p - hv)) / 2h` with
      :math:`h` = ``fd_eps`` :math:`\cdot \max(1, \lVert p \rVert)`; needs only first derivatives
      (two evaluations of ``loss_fn`` per product, ``params`` changed in place and restored bit for
      bit). Random draws inside ``loss_fn`` repeat on every call: the global RNG and ``generators``
      are reset to their entry state before each evaluation.
    * ``"auto"`` (default): autograd, unless :func:`double_backward_ok` says the fused
      ``mixed_aggregate`` kernel in use has no correct double backward (its backward is not itself
      differentiable, so autograd would return a wrong Hessian without an error); then ``"fd"``.

    ``loss_fn`` should evaluate the loss on a fixed batch (the validation batch). Returns 0.0 when the
    Hessian is zero along the iterates, ``nan`` when the loss or a product is not finite. Nothing is
    written to ``.grad``; the start vector comes from its own generator, and the global RNG and
    ``generators`` are left as they were at entry (measuring does not shift the search's random
    streams).
    """
    params = list(params)
    if iters < 1:
        raise ValueError(f"dominant_eigenvalue: iters must be >= 1, got {iters}")
    if method not in ("auto", "autograd", "fd"):
        raise ValueError(f"dominant_eigenvalue: method must be 'auto', 'autograd' or 'fd', got {method!r}")
    if which not in ("largest", "magnitude"):
        raise ValueError(f"dominant_eigenvalue: which must be 'largest' or 'magnitude', got {which!r}")
    from .unrolled import _RngReplay
    rng = _RngReplay(generators)
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p) for p in params]
    norm = torch.sqrt(_dot(v, v))
    v = [x / norm for x in v]
    try:
        hvp, known = _choose_hvp(loss_fn, params, v, method, fd_eps, rng)
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


def _choose_hvp(loss_fn, params, v, method, fd_eps, rng):
    """``(hvp, hvp(v) or None)`` for ``method``; ``(None, value)`` when the answer is known (0.0/nan)."""
    if method == "auto":
        method = "autograd" if double_backward_ok() else "fd"
    rng.restore()
    if method == "autograd":
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
    with torch.no_grad():
        if not torch.isfinite(loss_fn()):
            return None, math.nan
    return _fd_hvp(loss_fn, params, fd_eps, rng), None


def twice_differentiable(op: Callable[..., Tensor], reference: Callable[..., Tensor], seed: int = 0) -> bool:
    """Whether double backward through ``op`` (a ``mixed_aggregate``-like function) matches
    ``reference`` on a tiny random CSR graph in float64 (first derivatives and a Hessian-vector
    product with respect to ``x`` and ``weights`` jointly)."""
    g = torch.Generator().manual_seed(seed)
    n, d, names = 7, 3, ("sum", "mean", "gcn", "max", "min")
    deg = torch.randint(0, 4, (n,), generator=g)
    rowptr = torch.cat([torch.zeros(1, dtype=torch.long), deg.cumsum(0)])
    col = torch.randint(0, n, (int(deg.sum()),), generator=g)
    x0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    w0 = torch.rand(len(names), generator=g, dtype=torch.float64)
    c = torch.randn(n, d, generator=g, dtype=torch.float64)
    vx = torch.randn(n, d, generator=g, dtype=torch.float64)
    vw = torch.randn(len(names), generator=g, dtype=torch.float64)

    def products(f):
        x, w = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
        y = f(rowptr, col, torch.tanh(x) * w.sum(), w, names)
        loss = (y * y * c).sum()
        gx, gw = torch.autograd.grad(loss, (x, w), create_graph=True)
        hx, hw = torch.autograd.grad((gx * vx).sum() + (gw * vw).sum(), (x, w), allow_unused=True)
        zero = torch.zeros(())
        return [gx.detach(), gw.detach(), zero if hx is None else hx, zero if hw is None else hw]

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, want = products(op), products(reference)
    except RuntimeError:  # e.g. "element 0 of tensors does not require grad": no double backward
        return False
    return all(a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-9) for a, b in zip(got, want))


_DOUBLE_BACKWARD_OK: bool | None = None


def double_backward_ok() -> bool:
    """Whether autograd's Hessian-vector products can be trusted in this process: ``True`` unless the
    fused ``mixed_aggregate`` kernel is loaded and fails :func:`twice_differentiable` against the
    reference op (probed once, on the CPU). Does not build the extension."""
    global _DOUBLE_BACKWARD_OK
    try:
        from ..ops import _extension
        if not _extension.is_loaded():
            return True
    except Exception:  # noqa: BLE001 - no ops package or API: nothing fused to distrust
        return True
    if _DOUBLE_BACKWARD_OK is None:
        from .. import ops
        _DOUBLE_BACKWARD_OK = twice_differentiable(ops.mixed_aggregate, ops.reference.mixed_aggregate)
        if not _DOUBLE_BACKWARD_OK:
            log.info("dominant_eigenvalue: the fused mixed_aggregate kernel has no correct double "
                     "backward; Hessian-vector products use finite differences of gradients")
    return _DOUBLE_BACKWARD_OK


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

    It reads ``record["hessian/eigenvalue"]`` (the searcher measures it every ``search.hessian_every``
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
