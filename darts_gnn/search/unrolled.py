r"""Second-order (unrolled) DARTS: the α-gradient through one virtual weight step.

The bilevel problem :math:`\min_\alpha L_{val}(w^*(\alpha), \alpha)` with
:math:`w^*(\alpha) = \arg\min_w L_{train}(w, \alpha)` is approximated by one SGD step,
:math:`w' = w - \eta \nabla_w L_{train}(w, \alpha)`, and differentiated through it:

.. math::
    \nabla_\alpha L_{val}(w', \alpha)
      - \eta \, \nabla^2_{\alpha, w} L_{train}(w, \alpha) \, \nabla_{w'} L_{val}(w', \alpha)

The mixed second derivative times a vector is a central finite difference,

.. math::
    \nabla^2_{\alpha, w} L_{train}(w, \alpha)\, v \approx
    \frac{\nabla_\alpha L_{train}(w^+, \alpha) - \nabla_\alpha L_{train}(w^-, \alpha)}{2 \epsilon},
    \qquad w^\pm = w \pm \epsilon v, \quad \epsilon = \frac{\mathrm{eps}}{\lVert v \rVert},

with :math:`v = \nabla_{w'} L_{val}(w', \alpha)`, so the cost is two extra forward/backward passes on
the training batch and no second-order autograd graph. Its error is :math:`O(\epsilon^2)` (third
derivatives of :math:`L_{train}`); it is exact when :math:`L_{train}` is quadratic in ``w``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

__all__ = ["unrolled_arch_grads"]


def _grads(loss: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
    """Gradients of ``loss`` w.r.t. ``params``; zeros for parameters the loss does not use."""
    gs = torch.autograd.grad(loss, list(params), allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs)]


class _RngReplay:
    """Snapshot of the random-number streams, restored before each loss evaluation so that random
    draws inside the closures (negative sampling, dropout, Gumbel noise) repeat exactly."""

    def __init__(self, generators: Sequence[torch.Generator]) -> None:
        self.generators = list(generators)
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.gen_states = [g.get_state() for g in self.generators]

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        for g, s in zip(self.generators, self.gen_states):
            g.set_state(s)


def _check_args(weights: list[Tensor], alphas: list[Tensor], eps: float) -> None:
    if not weights or not alphas:
        raise ValueError(f"unrolled_arch_grads needs weights and alphas, got {len(weights)} weight and "
                         f"{len(alphas)} alpha tensors")
    if eps <= 0:
        raise ValueError(f"unrolled_arch_grads: eps must be > 0, got {eps}")


def _alpha_grads_at(weights: list[Tensor], backup: list[Tensor], v: list[Tensor], r: float,
                    alphas: list[Tensor], train_loss: Callable[[], Tensor], rng: "_RngReplay",
                    reduce=None) -> list[Tensor]:
    """:math:`\nabla_\alpha L_{train}` at :math:`w + r v` (``backup``: the original :math:`w`), passed
    through ``reduce`` (data parallel: the all-reduce over ranks) when given."""
    with torch.no_grad():
        for w, b, vi in zip(weights, backup, v):
            w.copy_(b).add_(vi, alpha=r)
    rng.restore()
    return _reduced(_grads(train_loss(), alphas), reduce)


def _reduced(grads: list[Tensor], reduce) -> list[Tensor]:
    """``reduce(grads)`` (data parallel: the global batch's gradients), or ``grads`` when ``None``."""
    return reduce(grads) if reduce is not None else grads


def _virtual_step(weights: list[Tensor], train_loss: Callable[[], Tensor], lr: float, rng: "_RngReplay",
                  reduce) -> None:
    r"""The virtual SGD step :math:`w' = w - \eta \nabla_w L_{train}(w, \alpha)`, in place."""
    rng.restore()
    gw = _reduced(_grads(train_loss(), weights), reduce)
    with torch.no_grad():
        for w, g in zip(weights, gw):
            w.sub_(g, alpha=lr)


def unrolled_arch_grads(weights: list[Tensor], alphas: list[Tensor],
                        train_loss: Callable[[], Tensor], valid_loss: Callable[[], Tensor],
                        lr: float, eps: float = 0.01,
                        generators: Sequence[torch.Generator] = (), reduce_train=None,
                        reduce_valid=None) -> list[Tensor]:
    r"""Second-order DARTS gradient of the validation loss with respect to ``alphas``.

    Args:
        weights: the network weights ``w`` (leaf tensors); they are changed **in place** during the
            call (virtual step, then :math:`w^\pm`) and restored bit for bit before it returns, also
            when a closure raises.
        alphas: the architecture parameters α (leaf tensors with ``requires_grad``).
        train_loss, valid_loss: closures that compute the loss from the *current* values of
            ``weights`` and ``alphas``. They must be deterministic between calls: the same batch every
            time (``train_loss`` is evaluated at :math:`w`, :math:`w^+` and :math:`w^-`). Random draws
            inside them are made repeatable here: the global CPU (and, when initialised, CUDA) RNG
            state and the state of every generator in ``generators`` (e.g. a Gumbel relaxation's
            ``generator``) are reset to their values at entry before each call; afterwards they are
            where the last closure call left them (as if the closure had run once).
        lr: :math:`\eta`, the learning rate of the virtual step (DARTS uses the weights' current lr).
        eps: the finite-difference step, scaled by :math:`1/\lVert v \rVert` (DARTS: 0.01).
        generators: extra :class:`torch.Generator` objects whose draws must repeat (see above).
        reduce_train, reduce_valid: data parallel (:mod:`darts_gnn.distributed`): ``f(grads) -> grads``
            turning a rank's gradients of ``train_loss`` / ``valid_loss`` into the global batch's
            (:meth:`darts_gnn.distributed.GradSync.reducer`); applied to every gradient here, so the
            virtual step, :math:`v` and the finite difference are the global ones on every rank.

    Returns:
        One gradient tensor per α (zeros where α does not influence the losses). Nothing is written to
        ``.grad``; assign the result, e.g. ``for a, g in zip(alphas, grads): a.grad = g``, then step
        the α optimiser.

    The virtual step is plain SGD: momentum and weight decay of the real weight optimiser are not
    applied (an L2 term inside ``train_loss`` is).
    """
    weights, alphas = list(weights), list(alphas)
    _check_args(weights, alphas, eps)
    rng = _RngReplay(generators)
    backup = [w.detach().clone() for w in weights]
    try:
        _virtual_step(weights, train_loss, lr, rng, reduce_train)  # 1. w' = w - lr * grad_w L_train(w, alpha)
        # 2. grad of L_val at (w', alpha) w.r.t. alpha and w'
        rng.restore()
        g_val = _reduced(_grads(valid_loss(), alphas + weights), reduce_valid)
        dalpha, v = g_val[:len(alphas)], g_val[len(alphas):]
        norm = torch.sqrt(sum((g.detach().double() ** 2).sum() for g in v)).item()
        if norm == 0.0 or lr == 0.0:
            return [d.detach() for d in dalpha]
        r = eps / norm
        # 3. grad_alpha L_train at w+ = w + r v and w- = w - r v (w: the original weights)
        g_pos = _alpha_grads_at(weights, backup, v, r, alphas, train_loss, rng, reduce_train)
        g_neg = _alpha_grads_at(weights, backup, v, -r, alphas, train_loss, rng, reduce_train)
        scale = lr / (2.0 * r)
        return [(d - scale * (gp - gn)).detach() for d, gp, gn in zip(dalpha, g_pos, g_neg)]
    finally:
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
