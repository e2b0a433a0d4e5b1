r"""Continuous relaxations of a discrete choice: how architecture logits α become mixing weights.

Every choice in the search space (an aggregator per layer, a transform per layer, ...) owns a row of
logits :math:`\alpha \in \mathbb{R}^K` over its ``K`` candidates. A :class:`Relaxation` turns such rows
(any tensor ``[..., K]``; the last dimension is the candidates) into the weights that mix the
candidates' outputs in the supernet:

==========  =====================================================================  ==============
name        forward weights                                                         regularizer
==========  =====================================================================  ==============
softmax     :math:`\mathrm{softmax}(\alpha)` (DARTS)                                0
gumbel      one-hot of :math:`\arg\max(\alpha + g)/\tau`, straight-through          0
            gradient of :math:`\mathrm{softmax}((\alpha + g)/\tau)` (GDAS);
            :math:`g` Gumbel(0, 1) noise, :math:`\tau` annealed over the search
sigmoid     :math:`\sigma(\alpha)`, candidates weighted independently (FairDARTS)   zero-one loss
==========  =====================================================================  ==============

``eval_weights`` gives deterministic weights for deriving the genotype and for evaluating the
supernet: softmax for ``softmax`` and ``gumbel``, :math:`\sigma(\alpha)` for ``sigmoid``. The argmax of
any of them is the argmax of α.

Reproducibility of ``gumbel``: the noise is drawn on the CPU from the relaxation's own
:class:`torch.Generator`, seeded with ``seed`` (then moved to α's device), so a run's samples depend
only on that seed and on the number of draws, not on the global RNG, the device or other code that
draws random numbers. With ``seed=None`` the global CPU RNG (``torch.manual_seed``) is used instead.
:meth:`Relaxation.state_dict` holds the generator state and the temperature so that a resumed search
draws the same noise as an uninterrupted one.

Example::

    relax = build_relaxation("gumbel", tau_max=10.0, tau_min=0.1, seed=0)
    for epoch in range(epochs):
        relax.set_progress(epoch, epochs)
        w = relax.weights(alpha)                  # [L, K], one-hot rows, gradient flows to alpha
        loss = task_loss(w) + relax.regularizer(w)
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import torch
from torch import Tensor

from .. import registries as _registry

__all__ = [
    "Relaxation", "SoftmaxRelaxation", "GumbelRelaxation", "SigmoidRelaxation",
    "RELAXATIONS", "build_relaxation", "register_relaxation", "relaxation_options_of",
]


class Relaxation:
    """Base class: maps logits ``alpha [..., K]`` to mixing weights ``[..., K]``.

    Subclasses implement :meth:`weights`; the defaults of the other methods suit stateless
    relaxations.
    """

    name: str = "base"

    def weights(self, alpha: Tensor) -> Tensor:
        """Mixing weights used in the supernet's forward pass during search (differentiable in α)."""
        raise NotImplementedError

    def eval_weights(self, alpha: Tensor) -> Tensor:
        """Deterministic weights for deriving the genotype and for evaluation (no noise)."""
        return torch.softmax(alpha, dim=-1)

    def regularizer(self, weights: Tensor) -> Tensor:
        """Scalar penalty on the weights returned by :meth:`weights`, added to the α loss."""
        return weights.new_zeros(())

    def set_progress(self, epoch: int, total: int) -> None:
        """Tell the relaxation where the search is (``epoch`` in ``0..total-1``); used by schedules."""

    def state_dict(self) -> dict:
        """Plain state (tensors, numbers, strings) for search checkpoints."""
        return {"name": self.name}

    def load_state_dict(self, state: dict) -> None:
        if state.get("name", self.name) != self.name:
            raise ValueError(f"checkpoint holds the state of relaxation {state.get('name')!r}, "
                             f"but this search uses {self.name!r}; resume with the same search.relaxation")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftmaxRelaxation(Relaxation):
    r"""DARTS: :math:`w = \mathrm{softmax}(\alpha)` over the last dimension; no regularizer."""

    name = "softmax"

    def weights(self, alpha: Tensor) -> Tensor:
        return torch.softmax(alpha, dim=-1)


class GumbelRelaxation(Relaxation):
    r"""GDAS-style Gumbel-softmax with a hard one-hot forward and a straight-through gradient.

    With Gumbel noise :math:`g_k = -\log E_k`, :math:`E_k \sim \mathrm{Exp}(1)`, the soft sample is
    :math:`y = \mathrm{softmax}((\alpha + g) / \tau)` and the forward weights are
    :math:`h = \mathrm{onehot}(\arg\max_k y_k)`; the backward pass uses :math:`\partial y/\partial\alpha`
    (``h - y.detach() + y``). So the supernet effectively runs one candidate per choice (single path),
    yet α still receives a gradient for every candidate.

    The temperature follows ``tau_schedule`` from ``tau_max`` at the first epoch to ``tau_min`` at the
    last: ``"linear"`` (GDAS) or ``"exp"`` (geometric). Args:
        tau_max, tau_min: start and end temperature (``tau_max >= tau_min > 0``).
        tau_schedule: ``"linear"`` or ``"exp"``.
        hard: one-hot forward (default) or the soft sample ``y`` itself.
        seed: seed of the relaxation's own CPU generator; ``None`` draws from the global RNG.
    """

    name = "gumbel"
    SCHEDULES = ("linear", "exp")

    def __init__(self, tau_max: float = 10.0, tau_min: float = 0.1, tau_schedule: str = "linear",
                 hard: bool = True, seed: int | None = 0) -> None:
        if not (tau_max >= tau_min > 0):
            raise ValueError(f"gumbel relaxation: need tau_max >= tau_min > 0, got tau_max={tau_max}, "
                             f"tau_min={tau_min}")
        if tau_schedule not in self.SCHEDULES:
            raise ValueError(f"gumbel relaxation: tau_schedule {tau_schedule!r} is unknown; "
                             f"use one of {', '.join(self.SCHEDULES)}")
        self.tau_max = float(tau_max)
        self.tau_min = float(tau_min)
        self.schedule = tau_schedule
        self.hard = bool(hard)
        self.seed = seed
        self.tau = self.tau_max
        self.generator: torch.Generator | None = None
        if seed is not None:
            self.generator = torch.Generator(device="cpu")
            self.generator.manual_seed(int(seed))

    def set_progress(self, epoch: int, total: int) -> None:
        if total <= 1:
            frac = 1.0 if epoch > 0 else 0.0
        else:
            frac = min(max(epoch / (total - 1), 0.0), 1.0)
        if self.schedule == "linear":
            self.tau = self.tau_max - (self.tau_max - self.tau_min) * frac
        else:
            self.tau = math.exp(math.log(self.tau_max) + (math.log(self.tau_min) - math.log(self.tau_max)) * frac)

    def sample_gumbel(self, shape: torch.Size, dtype: torch.dtype, device: torch.device) -> Tensor:
        """Gumbel(0, 1) noise of ``shape`` drawn on the CPU (own generator when seeded)."""
        e = torch.empty(shape, dtype=torch.float64).exponential_(generator=self.generator)
        # exponential_ can return exactly 0 with probability ~2^-53; clamp so -log stays finite
        g = -torch.log(e.clamp_min(torch.finfo(torch.float64).tiny))
        return g.to(dtype=dtype, device=device)

    def weights(self, alpha: Tensor) -> Tensor:
        g = self.sample_gumbel(alpha.shape, alpha.dtype, alpha.device)
        y = torch.softmax((alpha + g) / self.tau, dim=-1)
        if not self.hard:
            return y
        idx = y.detach().argmax(dim=-1, keepdim=True)
        h = torch.zeros_like(y).scatter_(-1, idx, 1.0)
        return h - y.detach() + y

    def state_dict(self) -> dict:
        state = {"name": self.name, "tau": self.tau}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.tau = float(state.get("tau", self.tau))
        if "generator" in state:
            if self.generator is None:
                self.generator = torch.Generator(device="cpu")
            self.generator.set_state(state["generator"])

    def __repr__(self) -> str:
        return (f"GumbelRelaxation(tau={self.tau:.4g}, tau_max={self.tau_max}, tau_min={self.tau_min}, "
                f"schedule={self.schedule!r}, hard={self.hard}, seed={self.seed})")


class SigmoidRelaxation(Relaxation):
    r"""FairDARTS: independent weights :math:`w = \sigma(\alpha)` and a zero-one loss.

    Candidates no longer compete through a softmax (which favours parameter-free candidates that help
    early, an "unfair advantage"); instead the zero-one loss pushes every weight towards 0 or 1, so that
    the discretisation gap is small:

    .. math::
        L_{0\text{-}1} = -\lambda \cdot \mathrm{mean}\big((w - \tfrac12)^2\big)

    over all entries of ``weights``; ``zero_one_weight`` is :math:`\lambda` (FairDARTS uses 10).
    The regularizer is a mean, so calling it on each α row and summing weighs rows equally; calling it
    once on a stacked tensor averages them.
    """

    name = "sigmoid"

    def __init__(self, zero_one_weight: float = 10.0) -> None:
        if zero_one_weight < 0:
            raise ValueError(f"sigmoid relaxation: zero_one_weight must be >= 0, got {zero_one_weight}")
        self.zero_one_weight = float(zero_one_weight)

    def weights(self, alpha: Tensor) -> Tensor:
        return torch.sigmoid(alpha)

    def eval_weights(self, alpha: Tensor) -> Tensor:
        return torch.sigmoid(alpha)

    def regularizer(self, weights: Tensor) -> Tensor:
        if self.zero_one_weight == 0 or weights.numel() == 0:
            return weights.new_zeros(())
        return -self.zero_one_weight * (weights - 0.5).pow(2).mean()

    def __repr__(self) -> str:
        return f"SigmoidRelaxation(zero_one_weight={self.zero_one_weight})"


#: The relaxation registry (:data:`darts_gnn.registries.RELAXATIONS`): ``name -> Relaxation class``.
#: ``search.relaxation`` is validated against it at config load; add one with :func:`register_relaxation`.
RELAXATIONS = _registry.RELAXATIONS


def register_relaxation(cls: type[Relaxation], name: str | None = None, replace: bool = False) -> type[Relaxation]:
    """Register a :class:`Relaxation` subclass under ``name`` (default ``cls.name``); usable as a
    decorator. Its ``__init__`` keyword arguments become the options of a nested config section,
    ``search.relaxation: {name: <name>, <option>: <value>, ...}``, checked at load."""
    RELAXATIONS.register(name or cls.name, cls, options=tuple(relaxation_options_of(cls)), replace=replace)
    return cls


def relaxation_options_of(cls: type[Relaxation]) -> list[str]:
    """The keyword options of a relaxation class (its ``__init__`` parameters)."""
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")]


for _cls in (SoftmaxRelaxation, GumbelRelaxation, SigmoidRelaxation):
    register_relaxation(_cls)


def build_relaxation(name: str | Mapping = "softmax", **kw) -> Relaxation:
    """Build a registered relaxation by name: ``softmax`` (default), ``gumbel``, ``sigmoid``, or one
    added with :func:`register_relaxation`.

    Keyword arguments go to the class (:class:`GumbelRelaxation`: ``tau_max, tau_min, tau_schedule,
    hard, seed``; :class:`SigmoidRelaxation`: ``zero_one_weight``). So that callers can pass every
    relaxation option from the config whatever the chosen name, options that belong to another
    relaxation are ignored; a keyword no relaxation knows is an error. ``seed=None`` makes Gumbel
    sampling use the global RNG. ``name`` may also be a nested config section,
    ``{"name": "gumbel", "tau_max": 5.0}``, whose options take precedence over ``kw``.
    """
    if isinstance(name, Mapping):  # a nested config section {name: ..., <option>: ...}
        section = dict(name)
        name = section.pop("name", "softmax")
        kw = {**kw, **section}
    key = str(name).lower()
    if key not in RELAXATIONS:
        raise ValueError(f"unknown relaxation {name!r}; choose one of {', '.join(RELAXATIONS)}")
    cls = RELAXATIONS[key]
    known = sorted({o for c in RELAXATIONS.values() for o in relaxation_options_of(c)})
    bad = [k for k in kw if k not in known]
    if bad:
        raise ValueError(f"unknown relaxation option(s) {', '.join(sorted(bad))}; known options: "
                         f"{', '.join(known)}")
    mine = relaxation_options_of(cls)
    return cls(**{k: v for k, v in kw.items() if k in mine})
