r"""``social``: friend recommendation, ranking users for each user over held-out friendships.

* data: the interactions plus a user-user file (``data.social_path``, e.g. LastFM's
  ``trustnetwork.txt``); :meth:`SocialTask.prepare` splits the undirected friendships per user
  (``task.test_fraction`` held out, then ``task.valid_fraction`` of the rest, seeded by
  ``task.seed``: :func:`darts_gnn.data.friends.split_friendships`) and keeps only the *training*
  friendships as ``dataset.social``, so the joint user-item-user graph
  (``Graph.from_dataset(ds, "train")``) never sees a held-out friendship. The split is attached as
  ``dataset.friends``.
* score: :math:`s(u, v) = \langle e_u, e_v \rangle` over the final user embeddings; no head.
* training loss: friend BPR :math:`\mathrm{mean}\,\mathrm{softplus}(s_{uw} - s_{uv})` over
  ``(user, friend, non-friend)`` triples (:class:`~darts_gnn.data.friend_sampler.FriendSampler`) plus
  :math:`l_2 \cdot \tfrac12 (\lVert e_u\rVert^2 + \lVert e_v\rVert^2 + \lVert e_w\rVert^2) / B` on the
  ego rows, plus ``task.item_weight`` times the user-item BPR loss of the ranking task on as many
  random interactions (0: friendships only).
* validation loss (α of DARTS): friend BPR over the validation friendships.
* metrics: Recall / NDCG / Precision / HitRate @K over users, the user itself and its known friends
  masked (:class:`~darts_gnn.tasks.friend_metrics.FriendEvaluator`); ``monitor`` ``recall@20``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch.nn.functional as F

from ..config import ConfigError, TaskConfig
from ..data.friend_sampler import FriendSampler
from ..data.friends import FriendSplit, split_friendships
from ..data.sampler import BPRSampler
from .metrics import monitor_metric
from .losses import batch_loss, l2_penalty
from .base import Task, TaskError, register_task
from .friend_metrics import FriendEvaluator

__all__ = ["SocialConfig", "SocialTask", "friend_bpr"]


@dataclass
class SocialConfig(TaskConfig):
    """``task`` keys of ``social``: friendship split fractions and seed, and the weight of the
    user-item BPR term (``item_weight`` >= 0)."""
    name: str = "social"
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    seed: int = 2020
    item_weight: float = 0.0

    def __post_init__(self) -> None:
        for key, ok, expected in (
                ("test_fraction", 0.0 < self.test_fraction < 1.0, "a number in (0, 1)"),
                ("valid_fraction", 0.0 <= self.valid_fraction < 1.0, "a number in [0, 1)"),
                ("item_weight", self.item_weight >= 0.0, "a number >= 0")):
            if not ok:
                raise ConfigError(f"task.{key}: expected {expected}, got {getattr(self, key)!r}")


def friend_bpr(user_emb, batch, l2: float = 0.0, ego_users=None):
    """Friend BPR of ``batch[:3] = (users, friends, non_friends)`` over user embeddings ``[U, d]``,
    plus ``l2`` times the L2 penalty of the batch's rows of ``ego_users`` ``[U, d]``."""
    users, pos, neg = batch[:3]
    u = user_emb.index_select(0, users)
    s_pos = (u * user_emb.index_select(0, pos)).sum(-1)
    s_neg = (u * user_emb.index_select(0, neg)).sum(-1)
    loss = F.softplus(s_neg - s_pos).mean()
    if l2 > 0:
        loss = loss + l2 * l2_penalty(*(ego_users.index_select(0, t) for t in (users, pos, neg)))
    return loss


@register_task("social", options=SocialConfig)
class SocialTask(Task):
    """Friend recommendation on the joint user-item-user graph (see the module docstring)."""

    monitor = "recall@20"
    higher_is_better = True

    def check(self, dataset) -> None:
        if dataset.social is None or not len(dataset.social):
            raise TaskError(f"task social: data set {dataset.name!r} has no user-user edges; set "
                            f"data.social_path (e.g. ../shared/data/lastfm/trustnetwork.txt)")

    def prepare(self, dataset):
        """A copy of ``dataset`` whose ``social`` holds the training friendships only, with the
        split as ``.friends`` (a data set already prepared is returned as it is)."""
        if isinstance(getattr(dataset, "friends", None), FriendSplit):
            return dataset
        self.check(dataset)
        c = self.cfg
        split = split_friendships(dataset.social, dataset.n_users, c.test_fraction, c.valid_fraction, c.seed)
        out = dataclasses.replace(dataset, social=split.train)
        out.friends = split
        return out

    def _friends(self, dataset) -> FriendSplit:
        split = getattr(dataset, "friends", None)
        if split is None:
            raise TaskError("task social: the data set was not prepared (call task.prepare(dataset) "
                            "before building the graph, the sampler or the evaluator)")
        return split

    def sampler(self, dataset, batch_size: int, seed: int) -> FriendSampler:
        items = BPRSampler(dataset, batch_size, seed) if self.cfg.item_weight > 0 else None
        return FriendSampler(self._friends(dataset), batch_size, seed, "train", items)

    def valid_sampler(self, dataset, batch_size: int, seed: int) -> FriendSampler:
        return FriendSampler(self._friends(dataset), batch_size, seed, "valid")

    def loss_from(self, emb, model, head, batch, l2: float):
        ego = model.ego_embeddings() if l2 > 0 else (None, None)
        loss = friend_bpr(emb[0], batch, l2, ego[0])
        if self.cfg.item_weight > 0 and len(batch) >= 6:
            loss = loss + self.cfg.item_weight * batch_loss(emb[0], emb[1], batch[3:6], l2,
                                                            ego if l2 > 0 else None)
        return loss

    def valid_loss_from(self, emb, model, head, batch):
        return friend_bpr(emb[0], batch)

    def evaluator(self, dataset, cfg) -> FriendEvaluator:
        """A :class:`FriendEvaluator` carrying ``.task`` (so the trainer, searcher and selection
        find the loss and the monitored metric through it)."""
        ev = FriendEvaluator(self._friends(dataset), ks=tuple(cfg.ks), batch_users=cfg.eval_batch_users)
        ev.task, ev.monitor, ev.higher_is_better = self, self.monitor_in(ev.ks), self.higher_is_better
        return ev

    def monitor_in(self, ks) -> str:
        return monitor_metric(ks)
