r"""``ranking``: implicit top-K item recommendation (the default task, darts-gnn's original job).

* batches: BPR triples ``(users, pos, neg)`` int64 ``[B]`` (:class:`~darts_gnn.data.BPRSampler`);
* training loss: :func:`~darts_gnn.engine.train.batch_loss`,
  :math:`\mathrm{mean}\,\mathrm{softplus}(s_{uj} - s_{ui}) + l_2 \cdot \tfrac12 (\lVert e_u\rVert^2 +
  \lVert e_i\rVert^2 + \lVert e_j\rVert^2) / B` on the ego rows, with :math:`s_{ui} = \langle e_u, e_i\rangle`;
* validation loss: BPR over validation pairs, negatives avoiding train and valid items
  (:class:`~darts_gnn.data.sampler.ValidSampler`);
* metrics: full-ranking Recall / NDCG / Precision / HitRate @K (:class:`~darts_gnn.tasks.metrics.Evaluator`);
  ``monitor``: ``recall@20`` (``recall@<first K>`` when 20 is not among the ks), higher is better.

It has no head: the score is the dot product of the final embeddings.
"""
from __future__ import annotations

from ..config import TaskConfig
from ..data.sampler import BPRSampler, ValidSampler
from .metrics import Evaluator, monitor_metric
from .losses import batch_loss
from .base import Task, register_task

__all__ = ["RankingTask"]


@register_task("ranking", options=TaskConfig)
class RankingTask(Task):
    """BPR training and full-ranking evaluation (see the module docstring)."""

    monitor = "recall@20"
    higher_is_better = True

    def sampler(self, dataset, batch_size: int, seed: int) -> BPRSampler:
        return BPRSampler(dataset, batch_size, seed)

    def valid_sampler(self, dataset, batch_size: int, seed: int) -> ValidSampler:
        return ValidSampler(dataset, batch_size, seed)

    def loss_from(self, emb, model, head, batch, l2: float):
        return batch_loss(emb[0], emb[1], batch, l2, model.ego_embeddings() if l2 > 0 else None)

    def valid_loss_from(self, emb, model, head, batch):
        return batch_loss(emb[0], emb[1], batch)

    def evaluator(self, dataset, cfg) -> Evaluator:
        return Evaluator(dataset, ks=tuple(cfg.ks), batch_users=cfg.eval_batch_users)

    def monitor_in(self, ks) -> str:
        return monitor_metric(ks)
