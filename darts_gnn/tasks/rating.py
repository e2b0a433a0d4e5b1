r"""``rating``: explicit rating prediction (MSE training, RMSE / MAE, lower is better).

The model's final embeddings ``(users [U, d], items [I, d])`` feed a decoder with biases
(:class:`RatingHead`, attached as ``model.task_head``):

.. math::
    \hat r_{ui} = \mu + b_u + b_i + e_u^\top W e_i

with ``W = I`` for ``decoder: dot`` and a learned ``[d, d]`` matrix (initialised to the identity) for
``decoder: bilinear``; :math:`\mu` is the mean training rating (a trained scalar). ``decoder: search``
makes the decoder a searched choice: in a DARTS supernet the head mixes both,
:math:`\mathrm{softmax}(\beta)_0\, e_u^\top e_i + \mathrm{softmax}(\beta)_1\, e_u^\top W e_i`, with
architecture logits ``β [2]`` optimised with α on the validation loss; the search ends with
``argmax β`` (:meth:`RatingTask.derive_head`), the decoder every later model of the run gets
(``dot`` before any search). Training minimises

.. math::
    \frac1B \sum_{(u,i)} (\hat r_{ui} - r_{ui})^2 + l_2 \cdot \tfrac12 \big(\lVert e^{(0)}_u\rVert^2 +
    \lVert e^{(0)}_i\rVert^2 + b_u^2 + b_i^2\big) / B + l_2 \cdot \tfrac12 \lVert W - I \rVert_F^2

over shuffled batches ``(users, items, ratings)`` of the training ratings (:class:`RatingSampler`;
ego rows :math:`e^{(0)}` as for BPR); the validation loss (the α objective of bilevel search) is the
same MSE on validation ratings without the penalty. The last term (bilinear decoders only) shrinks
``W`` towards the dot product: without it the ``d x d`` form overfits (ml-100k u1, LightGCN 2 layers,
validation RMSE 0.909 unshrunk, 0.898 shrunk, 0.897 for the dot product).
Evaluation clips predictions to the rating scale
``[lo, hi]`` (``task.scale``, default the lowest and highest rating in the data) and reports
``rmse = sqrt(mean((clip(r̂) - r)^2))``, ``mae = mean(|clip(r̂) - r|)`` and ``mse`` over the split's
pairs; ``monitor`` is ``rmse``, lower is better. Message passing uses the training graph unweighted.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..config import ConfigError, TaskConfig
from ..data.dataset import Dataset
from ..nn.base import eval_embeddings
from .losses import l2_penalty
from .base import Task, TaskError, register_task

log = logging.getLogger("darts_gnn.tasks")

__all__ = ["RatingConfig", "RatingTask", "RatingHead", "RatingSampler", "RatingEvaluator", "rating_metrics",
           "DECODERS"]

#: decoders over the final embeddings (``task.decoder`` also takes ``search``)
DECODERS = ("dot", "bilinear")


@dataclass
class RatingConfig(TaskConfig):
    """``task`` keys of the rating task: ``decoder`` (``dot`` or ``bilinear``, see the module doc) and
    ``scale`` (``[lowest, highest]`` rating predictions are clipped to; ``null``: from the data)."""
    name: str = "rating"
    decoder: str = "dot"
    scale: list[float] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.decoder not in (*DECODERS, "search"):
            raise ConfigError(f"task.decoder: got {self.decoder!r}; allowed values: {', '.join(DECODERS)}, search")
        if self.scale is not None and not (len(self.scale) == 2 and self.scale[0] < self.scale[1]):
            raise ConfigError(f"task.scale: expected [lowest, highest] with lowest < highest, got {self.scale!r}")


class RatingHead(nn.Module):
    r"""Biases and decoder: ``forward(eu [B, d], ei [B, d], users [B], items [B]) -> r̂ [B]`` with
    :math:`\hat r = \mu + b_u + b_i + e_u^\top W e_i` (``W`` the identity for ``dot``); ``search``:
    the softmax(``alpha``)-weighted mix of both (``alpha``: a ``[2]`` leaf, not a parameter)."""

    def __init__(self, n_users: int, n_items: int, dim: int, decoder: str = "dot", mean: float = 0.0):
        super().__init__()
        if decoder not in (*DECODERS, "search"):
            raise ValueError(f"RatingHead: decoder must be one of {DECODERS} or search, got {decoder!r}")
        self.decoder = decoder
        self.user_bias = nn.Parameter(torch.zeros(n_users))
        self.item_bias = nn.Parameter(torch.zeros(n_items))
        self.global_bias = nn.Parameter(torch.tensor(float(mean)))
        self.weight = nn.Parameter(torch.eye(dim)) if decoder != "dot" else None
        if decoder == "search":   # architecture logits: a buffer (saved, not a weight) that takes gradients
            self.register_buffer("alpha", torch.zeros(len(DECODERS)).requires_grad_(True))

    def arch_parameters(self) -> list[torch.Tensor]:
        """``[alpha]`` when the decoder is searched, else ``[]``."""
        return [self.alpha] if self.decoder == "search" else []

    def derived(self) -> str:
        """The decoder ``argmax alpha`` picks (the fixed one when not searched)."""
        return DECODERS[int(self.alpha.argmax())] if self.decoder == "search" else self.decoder

    def forward(self, eu: torch.Tensor, ei: torch.Tensor, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        bias = self.user_bias.index_select(0, users) + self.item_bias.index_select(0, items) + self.global_bias
        if self.decoder == "dot":
            return (eu * ei).sum(-1) + bias
        bil = ((eu @ self.weight) * ei).sum(-1)
        if self.decoder == "bilinear":
            return bil + bias
        w = torch.softmax(self.alpha, 0)
        return w[0] * (eu * ei).sum(-1) + w[1] * bil + bias

    def extra_repr(self) -> str:
        return f"decoder={self.decoder}, users={self.user_bias.numel()}, items={self.item_bias.numel()}"


def _predict(emb, head: RatingHead, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    return head(emb[0].index_select(0, users), emb[1].index_select(0, items), users, items)


class RatingSampler:
    """Batches ``(users int64 [B], items int64 [B], ratings float32 [B])`` over a split's rated pairs
    in a fresh seeded order per epoch: :meth:`epoch` ``(e)`` is a pure function of ``(seed, e)``;
    iterating the sampler yields epoch ``epoch_index`` and advances it."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, split: str = "train"):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        pairs = dataset.split(split)
        if len(pairs) == 0:
            raise TaskError(f"{dataset.name}: the {split} split has no ratings; nothing to sample")
        self.users = torch.from_numpy(np.ascontiguousarray(pairs[:, 0]))
        self.items = torch.from_numpy(np.ascontiguousarray(pairs[:, 1]))
        self.ratings = torch.from_numpy(dataset.ratings.lookup(pairs))
        self.batch_size, self.seed, self.epoch_index = int(batch_size), int(seed), 0

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    def epoch(self, e: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        order = torch.from_numpy(np.random.default_rng([self.seed, int(e)]).permutation(len(self.users)))
        for s in range(0, len(order), self.batch_size):
            idx = order[s:s + self.batch_size]
            yield self.users[idx], self.items[idx], self.ratings[idx]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        e = self.epoch_index
        self.epoch_index += 1
        return self.epoch(e)


def rating_metrics(pred: torch.Tensor, truth: torch.Tensor, scale: tuple[float, float]) -> dict[str, float]:
    """``{"rmse", "mae", "mse"}`` of predictions ``[n]`` clipped to ``scale`` against ratings ``[n]``."""
    if pred.numel() == 0:
        raise ValueError("rating_metrics: no predictions to score")
    err = pred.double().clamp(scale[0], scale[1]) - truth.double()
    mse = float(err.pow(2).mean())
    return {"rmse": math.sqrt(mse), "mae": float(err.abs().mean()), "mse": mse}


class RatingEvaluator:
    """RMSE / MAE / MSE of ``model.task_head`` over a split's rated pairs (predictions clipped to
    ``scale``); ``evaluate(model, split)`` runs the model once in eval mode. ``ks`` is empty (no
    cut-offs); ``monitor`` / ``higher_is_better`` / ``task`` say how to compare scores."""

    def __init__(self, dataset: Dataset, task: "RatingTask", batch_size: int = 65536):
        self.dataset, self.task, self.batch_size = dataset, task, int(batch_size)
        self.scale = task.scale(dataset)
        self.ks: list[int] = []
        self.monitor, self.higher_is_better = task.monitor, task.higher_is_better

    @torch.no_grad()
    def evaluate(self, model, split: str = "test") -> dict[str, float]:
        head = getattr(model, "task_head", None)
        if not isinstance(head, RatingHead):
            raise TaskError("rating evaluation: the model has no rating head (model.task_head); build it "
                            "with the rating task (darts_gnn.tasks.attach_head)")
        pairs = self.dataset.split(split)
        if len(pairs) == 0:
            raise ValueError(f"RatingEvaluator.evaluate: the {split!r} split has no ratings; nothing to evaluate")
        emb = eval_embeddings(model)
        was = head.training
        head.eval()
        device = emb[0].device
        users, items = (torch.from_numpy(np.ascontiguousarray(pairs[:, c])).to(device) for c in (0, 1))
        pred = torch.cat([_predict(emb, head, u, i) for u, i in
                          zip(users.split(self.batch_size), items.split(self.batch_size))])
        head.train(was)
        return rating_metrics(pred.cpu(), torch.from_numpy(self.dataset.ratings.lookup(pairs)), self.scale)


@register_task("rating", options=RatingConfig)
class RatingTask(Task):
    """Explicit ratings: MSE, RMSE/MAE with a biased dot or bilinear decoder (module docstring)."""

    monitor = "rmse"
    higher_is_better = False

    def __init__(self, cfg: RatingConfig | None = None) -> None:
        super().__init__(cfg if cfg is not None else RatingConfig())
        #: the decoder a search chose (``decoder: search``); ``None`` before any search
        self.chosen: str | None = None
        self._searching = False

    def begin_search(self) -> None:
        self.chosen, self._searching = None, True

    def derive_head(self, head) -> None:
        if self._searching and isinstance(head, RatingHead) and head.decoder == "search":
            self.chosen = head.derived()
            p = torch.softmax(head.alpha.detach(), 0).tolist()
            log.info("rating decoder: %s (softmax beta: %s)", self.chosen,
                     ", ".join(f"{d} {v:.3f}" for d, v in zip(DECODERS, p)))
        self._searching = False

    def summary(self) -> dict:
        return {**super().summary(), "decoder": self.decoder(), "decoder_option": self.cfg.decoder}

    def decoder(self) -> str:
        """The decoder a head built now gets: ``search`` inside a search, else the chosen or fixed one."""
        if self.cfg.decoder != "search":
            return self.cfg.decoder
        return "search" if self._searching else (self.chosen or "dot")

    def check(self, dataset) -> None:
        if getattr(dataset, "ratings", None) is None:
            raise TaskError(f"task.name 'rating': the data set {dataset.name!r} has no ratings; use "
                            f"data.source movielens, csv with data.rating_col, or synthetic with "
                            f"data.synthetic.ratings: true")

    def scale(self, dataset) -> tuple[float, float]:
        """``(lowest, highest)`` rating: ``task.scale``, else the data's range."""
        self.check(dataset)
        if self.cfg.scale is not None:
            return float(self.cfg.scale[0]), float(self.cfg.scale[1])
        return dataset.ratings.scale

    def head(self, dataset, dim: int) -> RatingHead:
        self.check(dataset)
        mean = float(dataset.ratings.lookup(dataset.train).mean()) if len(dataset.train) else 0.0
        return RatingHead(dataset.n_users, dataset.n_items, dim, self.decoder(), mean)

    def sampler(self, dataset, batch_size: int, seed: int) -> RatingSampler:
        self.check(dataset)
        return RatingSampler(dataset, batch_size, seed, "train")

    def valid_sampler(self, dataset, batch_size: int, seed: int) -> RatingSampler:
        self.check(dataset)
        return RatingSampler(dataset, batch_size, seed, "valid")

    def loss_from(self, emb, model, head, batch, l2: float) -> torch.Tensor:
        users, items, ratings = batch
        loss = (_predict(emb, head, users, items) - ratings).pow(2).mean()
        if l2 > 0:
            ego_u, ego_i = model.ego_embeddings()
            loss = loss + l2 * l2_penalty(ego_u.index_select(0, users), ego_i.index_select(0, items),
                                          head.user_bias.index_select(0, users).unsqueeze(1),
                                          head.item_bias.index_select(0, items).unsqueeze(1))
            if head.weight is not None:      # the bilinear form is shrunk towards the dot product
                loss = loss + l2 * 0.5 * (head.weight - torch.eye(head.weight.shape[0], device=head.weight.device)
                                          ).pow(2).sum()
        return loss

    def valid_loss_from(self, emb, model, head, batch) -> torch.Tensor:
        users, items, ratings = batch
        return (_predict(emb, head, users, items) - ratings).pow(2).mean()

    def evaluator(self, dataset, cfg) -> RatingEvaluator:
        self.check(dataset)
        return RatingEvaluator(dataset, self)
