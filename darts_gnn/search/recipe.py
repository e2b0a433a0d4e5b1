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
The first negative of each user is the sampler's (never a positive); the other ``M - 1`` are
distinct uniform draws **shared by the whole batch** (one ``[B, d] x [d, M-1]`` product instead of
gathering ``B x (M-1)`` rows: 8x cheaper per epoch at ``M = 64`` on ml-100k; all items when the
catalog has fewer than ``M - 1``), a user's own positive among them is masked out (found by an
item -> column lookup, ``O(B)``, not a ``[B, M]`` comparison), and they come from a generator seeded
with ``train.seed``, so a run is repeatable on CPU. With :math:`1/\tau` folded into the user rows and the
mask written at the hit positions only, no ``[B, M]`` tensor is divided, compared or masked densely.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..space.recipe import LOSSES, Recipe, recipe_train_config
from ..engine.train import Trainer
from ..tasks.losses import l2_penalty

__all__ = ["Recipe", "RecipeTrainer", "SharedNegatives", "objective_loss", "recipe_batch_loss", "step_negatives", "plain_bpr", "LOSSES", "recipe_train_config", "default_recipes", "default_grid",
           "SOFTMAX_RECIPES", "recipe_cost_factor"]


class SharedNegatives:
    """The batch-shared uniform negatives of a recipe's objective over a catalog of ``n_items`` items
    (module doc), drawn from ``generator``."""

    def __init__(self, n_items: int, generator: torch.Generator):
        self.n_items, self.generator = int(n_items), generator

    def draw(self, m: int) -> torch.Tensor:
        """Up to ``m`` distinct uniform item ids (``[<= m]``): every item when the catalog is not larger
        than ``m``; without replacement on a catalog up to ``32 m``; above that ``m`` draws with
        replacement, duplicates dropped (sorted)."""
        n = self.n_items
        if m >= n:
            return torch.arange(n)
        if n <= 32 * m:
            return torch.randperm(n, generator=self.generator)[:m]
        return torch.unique(torch.randint(0, n, (m,), generator=self.generator))

    def hits(self, shared: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rows, cols)``: the batch rows whose positive is one of the distinct ``shared`` ids, and its column."""
        col = torch.full((self.n_items,), -1, dtype=torch.long)
        col[shared] = torch.arange(shared.numel())
        at = col.to(pos.device)[pos]
        rows = torch.nonzero(at >= 0).flatten()
        return rows, at[rows]


def objective_loss(user_emb: torch.Tensor, item_emb: torch.Tensor, batch, recipe: Recipe,
                   negatives: SharedNegatives) -> torch.Tensor:
    """The recipe's objective (module doc, without the L2 term) on a batch ``(users, pos, neg)``
    (int64 ``[B]`` each) of final embeddings ``[U, d]`` / ``[I, d]``; ``negatives`` draws the
    ``recipe.negatives - 1`` shared ones."""
    users, pos, neg = batch
    u = user_emb.index_select(0, users)                                             # [B, d]
    if recipe.loss == "softmax":
        u = u * (1.0 / float(recipe.temperature))                                   # scores / tau
    s_pos = (u * item_emb.index_select(0, pos)).sum(-1)                             # [B]
    s_neg = (u * item_emb.index_select(0, neg)).sum(-1)                             # [B]
    s_shared, rows = None, None
    if recipe.negatives > 1:
        shared = negatives.draw(recipe.negatives - 1).to(neg.device)                # [S]
        s_shared = u @ item_emb.index_select(0, shared).t()                         # [B, S]
        rows, cols = negatives.hits(shared, pos)
        if rows.numel():                                                            # accidental positives
            low = torch.tensor(torch.finfo(s_shared.dtype).min, dtype=s_shared.dtype, device=s_shared.device)
            s_shared = s_shared.index_put((rows, cols), low)
    if recipe.loss == "bpr":
        total = F.softplus(s_neg - s_pos).sum()
        count = float(s_pos.numel())
        if s_shared is not None:
            total = total + F.softplus(s_shared - s_pos.unsqueeze(1)).sum()
            count += s_shared.numel() - rows.numel()
        return total / count
    parts = [s_pos.unsqueeze(1), s_neg.unsqueeze(1)] + ([s_shared] if s_shared is not None else [])
    logits = torch.cat(parts, dim=1)                                                 # [B, 2 + S]
    return F.cross_entropy(logits, logits.new_zeros(logits.size(0), dtype=torch.long))


def recipe_batch_loss(user_emb: torch.Tensor, item_emb: torch.Tensor, batch, recipe: Recipe,
                      negatives: SharedNegatives, l2: float = 0.0, ego=None) -> torch.Tensor:
    """:func:`objective_loss` plus ``l2`` times LightGCN's L2 term on the batch's rows of the ego tables
    ``ego`` (``([U, d], [I, d])``, needed when ``l2 > 0``): users, positives, the sampler's negatives."""
    loss = objective_loss(user_emb, item_emb, batch, recipe, negatives)
    if l2 > 0:
        users, pos, neg = batch
        ego_u, ego_i = ego
        loss = loss + l2 * l2_penalty(ego_u.index_select(0, users), ego_i.index_select(0, pos),
                                      ego_i.index_select(0, neg))
    return loss


def step_negatives(n_items: int, seed: int, epoch: int, step: int, part: int = 0) -> SharedNegatives:
    """:class:`SharedNegatives` drawn from a generator seeded by ``(seed, epoch, step, part)`` alone, so
    that a search step's negatives, like its batches, need no RNG state to resume (``part``: 0 for
    the training batch, 1 for the validation batch)."""
    key = ((int(seed) * 1_000_003 + int(epoch)) * 100_003 + int(step)) * 4 + int(part)
    return SharedNegatives(n_items, torch.Generator(device="cpu").manual_seed(key % (2 ** 63)))


def plain_bpr(recipe: Recipe | None) -> bool:
    """Whether ``recipe``'s objective is LightGCN's BPR with one negative (``None``: the default)."""
    return recipe is None or (recipe.loss == "bpr" and recipe.negatives == 1)


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
        self.negatives = SharedNegatives(model.n_items, self._gen)

    def loss(self, *batch: torch.Tensor) -> torch.Tensor:
        if self.task is not None or plain_bpr(self.recipe):                  # a task owns its loss
            return super().loss(*batch)
        return recipe_batch_loss(*self.model.embeddings(), batch, self.recipe, self.negatives, self.cfg.l2,
                                 self.model.ego_embeddings() if self.cfg.l2 > 0 else None)


def default_recipes(lr: float, l2: float = 1e-4) -> list[Recipe]:
    """The BPR part of the recipe grid: ``lr`` with the ``train`` section's L2 and with 10x that L2
    (at least ``1e-4``); the L2 strength is the per-architecture hyperparameter that mattered most
    in this project's measurements (docs/search.md)."""
    base = max(float(l2), 1e-4)
    return [Recipe(lr=lr), Recipe(lr=lr, l2=10 * base)]


#: The objective part of the default grid (docs/search.md): sampled softmax over ``M`` uniform
#: negatives with cosine scores (``norm``) and temperature ``tau`` (SimpleX, Mao et al. CIKM 2021;
#: Wu et al. TOIS 2023), as ``(recipe fields, norm)``; ``lr`` is the selection's.
SOFTMAX_RECIPES: tuple[tuple[dict, bool], ...] = (
    ({"loss": "softmax", "negatives": 1024, "temperature": 0.2}, True),
)


def default_grid(lr: float, l2: float = 1e-4) -> list[tuple[Recipe, bool | None]]:
    """The recipe grid tried when ``search.select_recipes`` is unset, in the order a tight budget
    serves it: BPR as the architecture stage trains it (the first of :func:`default_recipes`), then
    :data:`SOFTMAX_RECIPES` (cosine scores; the recipe that won on every named data set and seed,
    BENCHMARKS.md issue 9); each as ``(Recipe, norm)`` (``norm=None``: keep the architecture's).
    BPR with 10x the L2 (:func:`default_recipes`' second) is no longer in it: it never won in
    sessions 4-7 and, run on the baseline point before the architectures (``search.select_lead``),
    it took 0.25-0.35x of a baseline training from them; name it in ``search.select_recipes`` to
    search the L2 again."""
    bpr = [(r, None) for r in default_recipes(lr, l2)]
    return bpr[:1] + [(Recipe(lr=lr, **fields), norm) for fields, norm in SOFTMAX_RECIPES]


def recipe_cost_factor(recipe: Recipe | None) -> float:
    """Predicted cost of one epoch under ``recipe`` relative to a BPR epoch: ``1 + (M - 1) / 512`` for
    ``M`` batch-shared negatives (measured on ml-100k, LightGCN, 1 thread: about 3x at M = 1024 once
    the loss stopped masking and dividing dense ``[B, M]`` tensors; BENCHMARKS.md, issue 9 session 4),
    1 for BPR with one negative."""
    m = recipe.negatives if recipe is not None else 1
    return 1.0 + (m - 1) / 512.0
