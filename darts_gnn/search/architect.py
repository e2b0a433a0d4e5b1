r"""The architect: owns α's optimiser and takes α's steps (first or second order).

DARTS's bilevel problem :math:`\min_\alpha L_{val}(w^*(\alpha), \alpha)` with
:math:`w^*(\alpha) = \arg\min_w L_{train}(w, \alpha)` is approximated by alternating steps. The
:class:`~darts_gnn.search.Searcher` steps the weights; the :class:`Architect` steps α:

* first order (``order=1``): :math:`\nabla_\alpha L_{val}(w, \alpha)` at the current weights, taken
  from the forward pass the weight step also uses (:meth:`Architect.backward`, then :meth:`step`);
* second order (``order=2``): the unrolled gradient through one virtual SGD step of the weights
  (:func:`darts_gnn.search.unrolled.unrolled_arch_grads`, :meth:`Architect.unrolled_step`).

The α optimiser is Adam (``lr``, ``betas``, ``weight_decay``), as in DARTS. α rows are the supernet's
:meth:`~darts_gnn.search.SuperNet.arch_parameters` (kept out of ``parameters()``); the weights' own
optimiser never sees them. :meth:`state_dict` holds the optimiser state for checkpoints (α itself
is in the supernet's ``state_dict``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .unrolled import unrolled_arch_grads

__all__ = ["Architect"]


class Architect:
    """α's optimiser and update rule.

    Args:
        alphas: the α rows (leaf tensors ``[K_c]`` with ``requires_grad``).
        lr, betas, weight_decay: Adam on α (``search.arch_lr``, ``search.arch_betas``,
            ``search.arch_weight_decay``).
        order: 1 (first order) or 2 (unrolled second order).
        unrolled_eps: finite-difference step of the second-order gradient (``search.unrolled_eps``).
        generators: random generators whose draws must repeat inside the unrolled gradient (e.g. a
            Gumbel relaxation's).
    """

    def __init__(self, alphas: Sequence[Tensor], lr: float, betas: Sequence[float] = (0.5, 0.999),
                 weight_decay: float = 1e-3, order: int = 1, unrolled_eps: float = 0.01,
                 generators: Sequence[torch.Generator] = ()) -> None:
        if order not in (1, 2):
            raise ValueError(f"Architect: order must be 1 or 2, got {order!r}")
        self.alphas = list(alphas)
        self.order = int(order)
        self.unrolled_eps = float(unrolled_eps)
        self.generators = list(generators)
        self.optimizer = torch.optim.Adam(self.alphas, lr=lr, betas=tuple(betas),
                                          weight_decay=weight_decay) if self.alphas else None

    @property
    def active(self) -> bool:
        """Whether there is any α to optimise (a space with no searched choice has none)."""
        return self.optimizer is not None

    def backward(self, valid_loss: Tensor) -> None:
        """First order: write :math:`\\nabla_\\alpha` ``valid_loss`` to ``α.grad`` (the graph is
        retained, so the weight gradient can be taken from the same forward pass)."""
        grads = torch.autograd.grad(valid_loss, self.alphas, retain_graph=True, allow_unused=True)
        for a, g in zip(self.alphas, grads):
            a.grad = torch.zeros_like(a) if g is None else g

    def step(self) -> None:
        """Apply the α gradients written by :meth:`backward` (one Adam step)."""
        if self.optimizer is not None:
            self.optimizer.step()

    def unrolled_step(self, weights: Sequence[Tensor], train_loss: Callable[[], Tensor],
                      valid_loss: Callable[[], Tensor], lr: float, reduce=(None, None)) -> None:
        """Second order: α's gradient through one virtual weight step of size ``lr``, then one Adam
        step. ``weights`` are restored bit for bit (see :func:`unrolled_arch_grads`). ``reduce``:
        ``(reduce_train, reduce_valid)`` of a data-parallel run (:mod:`darts_gnn.distributed`)."""
        if self.optimizer is None:
            return
        grads = unrolled_arch_grads(list(weights), self.alphas, train_loss, valid_loss, lr=lr,
                                    eps=self.unrolled_eps, generators=self.generators,
                                    reduce_train=reduce[0], reduce_valid=reduce[1])
        for a, g in zip(self.alphas, grads):
            a.grad = g
        self.optimizer.step()

    def state_dict(self) -> dict | None:
        return self.optimizer.state_dict() if self.optimizer is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.optimizer is not None and state is not None:
            self.optimizer.load_state_dict(state)
