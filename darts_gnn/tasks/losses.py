r"""The BPR loss and LightGCN's L2 term: the ranking objective the Trainer, the DARTS searcher and the
ranking-style tasks share.

For a batch ``(users, pos, neg)`` (int64 ``[B]`` each) of final embeddings ``[U, d]`` / ``[I, d]``:

    mean(softplus(s_neg - s_pos)) + l2 * 0.5 * (|e_u|^2 + |e_pos|^2 + |e_neg|^2) / B

with the L2 term on the batch rows of the *ego* (layer-0) tables.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["bpr_loss", "l2_penalty", "batch_loss"]


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    r"""Mean BPR loss :math:`-\log \sigma(s^+ - s^-) = \mathrm{softplus}(s^- - s^+)` over the batch."""
    return F.softplus(neg_scores - pos_scores).mean()


def l2_penalty(*rows: torch.Tensor) -> torch.Tensor:
    r""":math:`\tfrac12 \sum_t \lVert t \rVert_2^2 / B` over tensors of ``B`` rows (LightGCN's reg loss)."""
    batch = rows[0].size(0)
    return 0.5 * sum(r.pow(2).sum() for r in rows) / max(batch, 1)


def batch_loss(user_emb: torch.Tensor, item_emb: torch.Tensor, batch, l2: float = 0.0,
               ego: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    r"""BPR over a batch ``(users, pos, neg)`` (int64 ``[B]`` each) of final embeddings ``[U, d]`` /
    ``[I, d]``, plus ``l2`` times :func:`l2_penalty` of the batch's rows of the ego tables ``ego``
    (needed when ``l2 > 0``): the loss of the Trainer and of the searcher's weights.

    Rows are gathered with ``index_select``: on CPU the backward of advanced indexing (``index_put_``
    with accumulate) adds duplicate rows in a thread-dependent order, ``index_select``'s does not.
    """
    users, pos, neg = batch
    u = user_emb.index_select(0, users)
    loss = bpr_loss((u * item_emb.index_select(0, pos)).sum(-1), (u * item_emb.index_select(0, neg)).sum(-1))
    if l2 > 0:
        ego_u, ego_i = ego
        loss = loss + l2 * l2_penalty(ego_u.index_select(0, users), ego_i.index_select(0, pos),
                                      ego_i.index_select(0, neg))
    return loss
