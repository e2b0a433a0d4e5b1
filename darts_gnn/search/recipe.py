r"""Per-architecture training recipes: the objective and its hyperparameters as searchable dimensions.

Graph CF models are sensitive to how they are trained, and the best settings differ between
architectures (Rendle et al., "Revisiting the performance of iALS", RecSys 2022; Wu et al., "On the
effectiveness of sampled softmax loss for item recommendation", TOIS 2023). A :class:`Recipe` is a
small plain value that the selection stage (:mod:`darts_gnn.search.select`) searches together with
the architecture; :class:`RecipeTrainer` trains a model with it.

Objectives, for a batch of ``B`` users ``u`` with positives ``i`` and ``M`` uniform negatives ``j``
(scores :math:`s = \langle e_u, e_i\rangle`, ``[B]`` and ``[B, M]``):

* ``bpr``: :math:`\frac1M \sum_j \mathrm{softplus}(s_{uj} - s_{ui})` (Rendle et al., UAI 2009;
  LightGCN's loss when ``M = 1``);
* ``softmax``: sampled softmax :math:`-\log \frac{\exp(s_{ui}/\tau)}{\exp(s_{ui}/\tau) + \sum_j
  \exp(s_{uj}/\tau)}` with temperature :math:`\tau` (Wu et al., TOIS 2023; with L2-normalised outputs
  this is the cosine contrastive objective of SimpleX, Mao et al., CIKM 2021).

Both add LightGCN's L2 term on the batch's ego rows (users, positives, the first negative; ``l2``). The first negative of each user is the
sampler's (never a positive); the other ``M - 1`` are uniform draws from a generator seeded with
``train.seed``, so a run is repeatable on CPU.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..space import SpaceError
from ..train import Trainer, bpr_loss, l2_penalty

__all__ = ["Recipe", "RecipeTrainer", "LOSSES", "recipe_train_config"]

#: Training objectives a recipe may name.
LOSSES: tuple[str, ...] = ("bpr", "softmax")


@dataclass(frozen=True)
class Recipe:
    """How to train one architecture.

    ``loss``: one of :data:`LOSSES`; ``negatives``: uniform negatives per positive (``M``);
    ``temperature``: :math:`\\tau` of ``softmax`` (ignored by ``bpr``); ``lr`` / ``l2``: Adam's
    learning rate and the L2 weight on ego rows (``None``: the ``train`` section's values).
    """
    loss: str = "bpr"
    negatives: int = 1
    temperature: float = 1.0
    lr: float | None = None
    l2: float | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise SpaceError(f"recipe.loss: got {self.loss!r}; allowed values: {', '.join(LOSSES)}")
        if not isinstance(self.negatives, int) or isinstance(self.negatives, bool) or not 1 <= self.negatives <= 4096:
            raise SpaceError(f"recipe.negatives: expected an integer in 1..4096, got {self.negatives!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 < float(self.temperature) <= 100):
            raise SpaceError(f"recipe.temperature: expected a number in (0, 100], got {self.temperature!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise SpaceError(f"recipe.lr: expected a number in (0, 1) or null, got {self.lr!r}")
        if self.l2 is not None and not (isinstance(self.l2, (int, float)) and 0 <= self.l2 < 1):
            raise SpaceError(f"recipe.l2: expected a number in [0, 1) or null, got {self.l2!r}")

    @property
    def is_default(self) -> bool:
        return self == Recipe()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Recipe":
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise SpaceError(f"recipe: expected a mapping, got {d!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        bad = [k for k in d if k not in names]
        if bad:
            raise SpaceError(f"recipe: unknown key(s) {bad}; allowed keys: {', '.join(names)}")
        return cls(**d)

    def short(self) -> str:
        """E.g. ``softmax(M=64, t=0.1) lr=0.005`` (``bpr`` for the default)."""
        s = self.loss if self.loss == "bpr" and self.negatives == 1 else \
            f"{self.loss}(M={self.negatives}" + (f", t={self.temperature:g})" if self.loss == "softmax" else ")")
        if self.lr is not None:
            s += f" lr={self.lr:g}"
        if self.l2 is not None:
            s += f" l2={self.l2:g}"
        return s


def recipe_train_config(train: TrainConfig, recipe: Recipe, **changes) -> TrainConfig:
    """``train`` with the recipe's ``lr`` / ``l2`` (when set) and ``changes`` applied."""
    over = {k: v for k, v in (("lr", recipe.lr), ("l2", recipe.l2)) if v is not None}
    return dataclasses.replace(train, **over, **changes)


class RecipeTrainer(Trainer):
    """:class:`~darts_gnn.train.Trainer` whose batch loss is the recipe's objective (module doc).

    Build it with :func:`recipe_train_config` so that ``lr`` / ``l2`` follow the recipe. With the
    default recipe it computes exactly the parent's BPR loss.
    """

    def __init__(self, model, dataset, cfg: TrainConfig, recipe: Recipe | None = None, **kw):
        super().__init__(model, dataset, cfg, **kw)
        self.recipe = recipe or Recipe()
        self._gen = torch.Generator(device="cpu")
        self._gen.manual_seed(int(cfg.seed) + 7919)

    def _extra_negatives(self, n: int, m: int) -> torch.Tensor:
        return torch.randint(0, self.model.n_items, (n, m), generator=self._gen)

    def loss(self, *batch: torch.Tensor) -> torch.Tensor:
        r = self.recipe
        if self.task is not None or (r.loss == "bpr" and r.negatives == 1):  # a task owns its loss
            return super().loss(*batch)
        users, pos, neg = batch
        negs = neg.unsqueeze(1)
        if r.negatives > 1:
            extra = self._extra_negatives(neg.numel(), r.negatives - 1).to(neg.device)
            negs = torch.cat([negs, extra], dim=1)                                  # [B, M]
        user_emb, item_emb = self.model.embeddings()
        u = user_emb.index_select(0, users)                                         # [B, d]
        s_pos = (u * item_emb.index_select(0, pos)).sum(-1)                         # [B]
        n_emb = item_emb.index_select(0, negs.reshape(-1)).view(*negs.shape, -1)    # [B, M, d]
        s_neg = torch.einsum("bd,bmd->bm", u, n_emb)                                # [B, M]
        if r.loss == "bpr":
            loss = bpr_loss(s_pos.unsqueeze(1), s_neg)
        else:
            logits = torch.cat([s_pos.unsqueeze(1), s_neg], dim=1) / float(r.temperature)
            loss = F.cross_entropy(logits, logits.new_zeros(logits.size(0), dtype=torch.long))
        if self.cfg.l2 > 0:
            ego_u, ego_i = self.model.ego_embeddings()
            loss = loss + self.cfg.l2 * l2_penalty(ego_u.index_select(0, users), ego_i.index_select(0, pos),
                                                   ego_i.index_select(0, neg))
        return loss
