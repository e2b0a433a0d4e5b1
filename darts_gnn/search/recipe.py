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

Both add LightGCN's L2 term on the batch's ego rows (users, positives, the first negative; ``l2``).
The first negative of each user is the sampler's (never a positive); the other ``M - 1`` are uniform
draws **shared by the whole batch** (one ``[B, d] x [d, M-1]`` product instead of gathering
``B x (M-1)`` rows: 8x cheaper per epoch at ``M = 64`` on ml-100k), an accidental positive among
them is masked out, and they come from a generator seeded with ``train.seed``, so a run is
repeatable on CPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..space.recipe import LOSSES, Recipe, recipe_train_config
from ..engine.train import Trainer
from ..tasks.losses import l2_penalty

__all__ = ["Recipe", "RecipeTrainer", "LOSSES", "recipe_train_config"]


class RecipeTrainer(Trainer):
    """:class:`~darts_gnn.engine.train.Trainer` whose batch loss is the recipe's objective (module doc).

    Build it with :func:`recipe_train_config` so that ``lr`` / ``l2`` follow the recipe. With the
    default recipe it computes exactly the parent's BPR loss.
    """

    def __init__(self, model, dataset, cfg: TrainConfig, recipe: Recipe | None = None, **kw):
        super().__init__(model, dataset, cfg, **kw)
        self.recipe = recipe or Recipe()
        self._gen = torch.Generator(device="cpu")
        self._gen.manual_seed(int(cfg.seed) + 7919)

    def _extra_negatives(self, m: int) -> torch.Tensor:
        """``m`` uniform item ids shared by the whole batch (``[m]``)."""
        return torch.randint(0, self.model.n_items, (m,), generator=self._gen)

    def loss(self, *batch: torch.Tensor) -> torch.Tensor:
        r = self.recipe
        if self.task is not None or (r.loss == "bpr" and r.negatives == 1):  # a task owns its loss
            return super().loss(*batch)
        users, pos, neg = batch
        user_emb, item_emb = self.model.embeddings()
        u = user_emb.index_select(0, users)                                         # [B, d]
        s_pos = (u * item_emb.index_select(0, pos)).sum(-1)                         # [B]
        s_neg = (u * item_emb.index_select(0, neg)).sum(-1, keepdim=True)           # [B, 1]
        if r.negatives > 1:
            shared = self._extra_negatives(r.negatives - 1).to(neg.device)          # [M-1]
            s_shared = u @ item_emb.index_select(0, shared).t()                     # [B, M-1]
            hit = shared.unsqueeze(0) == pos.unsqueeze(1)                           # accidental positives
            s_neg = torch.cat([s_neg, s_shared.masked_fill(hit, float("-inf"))], dim=1)   # [B, M]
        if r.loss == "bpr":
            valid = torch.isfinite(s_neg)
            loss = (F.softplus(s_neg - s_pos.unsqueeze(1)) * valid).sum() / valid.sum()
        else:
            logits = torch.cat([s_pos.unsqueeze(1), s_neg], dim=1) / float(r.temperature)
            loss = F.cross_entropy(logits, logits.new_zeros(logits.size(0), dtype=torch.long))
        if self.cfg.l2 > 0:
            ego_u, ego_i = self.model.ego_embeddings()
            loss = loss + self.cfg.l2 * l2_penalty(ego_u.index_select(0, users), ego_i.index_select(0, pos),
                                                   ego_i.index_select(0, neg))
        return loss
