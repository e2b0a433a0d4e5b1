r"""Link-prediction heuristics on the training friendships: the baselines of the ``social`` task.

With :math:`N(u)` the training friends of user :math:`u`:

* common neighbours: :math:`\mathrm{CN}(u, v) = |N(u) \cap N(v)|`
* Adamic-Adar: :math:`\mathrm{AA}(u, v) = \sum_{w \in N(u) \cap N(v)} 1 / \log |N(w)|`

Both are :math:`A W A` for the symmetric 0/1 friendship matrix :math:`A` ``[U, U]`` and a diagonal
weight :math:`W` (the identity for CN, :math:`1/\log d_w` for AA; a common neighbour of two distinct
users has degree at least 2, so the log is positive). They score like a model:
:meth:`LinkHeuristic.score_users` gives ``[B, U]``, which
:class:`darts_gnn.tasks.friend_metrics.FriendEvaluator` ranks like any learned model's scores.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ..data.friends import friend_csr

__all__ = ["LinkHeuristic", "common_neighbours", "adamic_adar"]


class LinkHeuristic:
    r"""Scores :math:`S = A\,\mathrm{diag}(w)\,A` of a symmetric friendship graph over ``n_users``.

    Args:
        pairs: undirected training friendships ``[m, 2]`` (int64).
        n_users: number of users ``U``.
        node_weight: float64 ``[U]``, the weight :math:`w` of each user as a common neighbour.
        name: for tables and logs.
    """

    def __init__(self, pairs: np.ndarray, n_users: int, node_weight: torch.Tensor, name: str):
        self.name = name
        self.n_users = int(n_users)
        self.rowptr, self.cols = friend_csr(pairs, n_users)
        values = torch.ones(self.cols.numel(), dtype=torch.float64)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": known, not actionable
            warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
            self.adj = torch.sparse_csr_tensor(self.rowptr, self.cols, values, size=(n_users, n_users),
                                               check_invariants=False)
        self.node_weight = node_weight.to(torch.float64)

    def degree(self) -> torch.Tensor:
        """Training friends per user, int64 ``[U]``."""
        return self.rowptr[1:] - self.rowptr[:-1]

    def rows(self, users: torch.Tensor) -> torch.Tensor:
        """Dense rows ``A[users]`` ``[B, U]`` (float64)."""
        users = users.to(torch.int64).cpu()
        start, count = self.rowptr[users], self.rowptr[users + 1] - self.rowptr[users]
        r = torch.repeat_interleave(torch.arange(len(users)), count)
        offset = torch.repeat_interleave(start - (torch.cumsum(count, 0) - count), count)
        c = self.cols[torch.arange(r.numel()) + offset]
        out = torch.zeros(len(users), self.n_users, dtype=torch.float64)
        out[r, c] = 1.0
        return out

    @torch.no_grad()
    def score_users(self, users: torch.Tensor) -> torch.Tensor:
        """``[B, U]`` scores of ``users`` ``[B]`` against every user (float32)."""
        weighted = self.rows(users) * self.node_weight  # [B, U]: A[users] diag(w)
        return torch.sparse.mm(self.adj, weighted.t().contiguous()).t().to(torch.float32)

    def __repr__(self) -> str:
        return f"LinkHeuristic({self.name}, users={self.n_users}, friendships={self.cols.numel() // 2})"


def common_neighbours(pairs: np.ndarray, n_users: int) -> LinkHeuristic:
    """Common-neighbour counts over the friendships ``pairs`` ``[m, 2]``."""
    return LinkHeuristic(pairs, n_users, torch.ones(n_users, dtype=torch.float64), "common_neighbours")


def adamic_adar(pairs: np.ndarray, n_users: int) -> LinkHeuristic:
    """Adamic-Adar scores over the friendships ``pairs`` ``[m, 2]`` (degree-1 users weigh 0: they
    cannot be a common neighbour of two distinct users)."""
    rowptr, _ = friend_csr(pairs, n_users)
    deg = (rowptr[1:] - rowptr[:-1]).to(torch.float64)
    w = torch.where(deg >= 2, 1.0 / torch.log(deg.clamp(min=2.0)), torch.zeros_like(deg))
    return LinkHeuristic(pairs, n_users, w, "adamic_adar")
