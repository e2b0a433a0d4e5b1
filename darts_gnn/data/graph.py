"""The user-item message-passing graph in CSR form, with cached normalisations."""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ..ops.csr import csr_transpose, inv_sqrt_degree

__all__ = ["Graph"]


def _check_range(ids: np.ndarray, n: int, what: str) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        raise ValueError(f"Graph: {what} must lie in [0, {n}), got [{int(ids.min())}, {int(ids.max())}]")


class Graph:
    r"""Undirected bipartite user-item graph (plus optional user-user edges) over ``N = U + I`` nodes.

    Node ``u`` is user ``u``; node ``U + i`` is item ``i``. Stored as CSR by destination row: row
    ``v``'s neighbours are ``col[rowptr[v]:rowptr[v+1]]`` (the graph is symmetric, so in- and
    out-neighbours agree). Duplicate pairs are merged; no self-loops are added.

    Cached tensors:

    * ``rowptr`` int64 ``[N+1]``, ``col`` int64 ``[E]``
    * ``deg`` float32 ``[N]``: number of neighbours
    * ``dinv`` float32 ``[N]``: :math:`D^{-1/2}` (0 for an isolated node), :func:`darts_gnn.ops.inv_sqrt_degree`
    * ``gcn_weight`` float32 ``[E]``: :math:`1/\sqrt{d_v d_u}` for edge ``u -> v`` (0-degree safe)
    * ``norm_adj()``: ``torch.sparse_csr_tensor`` of :math:`D^{-1/2} A D^{-1/2}`, shape ``[N, N]``
    * ``transpose()``: the transposed CSR ``(t_rowptr, t_row, t_eid)``, shared with the fused op's backward
    """

    def __init__(self, n_users: int, n_items: int, rowptr: torch.Tensor, col: torch.Tensor):
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.rowptr = rowptr.to(torch.int64).contiguous()
        self.col = col.to(torch.int64).contiguous()
        if self.rowptr.numel() != self.num_nodes + 1:
            raise ValueError(f"rowptr has {self.rowptr.numel()} entries, expected {self.num_nodes + 1}")
        self.deg = (self.rowptr[1:] - self.rowptr[:-1]).to(torch.float32)
        self.dinv = inv_sqrt_degree(self.rowptr)
        row = torch.repeat_interleave(torch.arange(self.num_nodes), self.rowptr[1:] - self.rowptr[:-1])
        self.row = row
        self.gcn_weight = (self.dinv[row] * self.dinv[self.col]).contiguous()
        self._norm_adj: torch.Tensor | None = None
        self._transpose: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def num_nodes(self) -> int:
        return self.n_users + self.n_items

    @property
    def num_edges(self) -> int:
        return int(self.col.numel())

    @classmethod
    def from_interactions(cls, n_users: int, n_items: int, pairs: np.ndarray,
                          social: np.ndarray | None = None) -> "Graph":
        """Build from ``(user, item)`` pairs ``[n, 2]`` and optional user-user pairs ``[m, 2]``.

        Vectorised: one sort of the edge keys ``dst * N + src`` (duplicates merged), one ``bincount``
        for the row pointer. Ids out of range raise ``ValueError``.
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        _check_range(pairs[:, 0], n_users, "user ids of pairs")
        _check_range(pairs[:, 1], n_items, "item ids of pairs")
        u, i = pairs[:, 0], pairs[:, 1] + n_users
        src = [u, i]
        dst = [i, u]
        if social is not None and len(social):
            s = np.asarray(social, dtype=np.int64).reshape(-1, 2)
            _check_range(s, n_users, "user ids of social edges")
            s = s[s[:, 0] != s[:, 1]]
            src += [s[:, 0], s[:, 1]]
            dst += [s[:, 1], s[:, 0]]
        src = np.concatenate(src)
        dst = np.concatenate(dst)
        n = n_users + n_items
        key = np.sort(dst * n + src)  # sorted by destination row, then by source
        if len(key) > 1:
            key = key[np.r_[True, key[1:] != key[:-1]]]  # merge duplicates (faster than np.unique)
        dst, src = key // n, key % n
        rowptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(dst, minlength=n), out=rowptr[1:])
        return cls(n_users, n_items, torch.from_numpy(rowptr), torch.from_numpy(src))

    @classmethod
    def from_dataset(cls, dataset, split: str = "train", social: bool = True) -> "Graph":
        """The message-passing graph of one split (``train`` for training and search: no leakage)."""
        return cls.from_interactions(dataset.n_users, dataset.n_items, dataset.split(split),
                                     dataset.social if social else None)

    def norm_adj(self) -> torch.Tensor:
        """Sparse CSR :math:`D^{-1/2} A D^{-1/2}` ``[N, N]`` (float32), built once and cached."""
        if self._norm_adj is None:
            with warnings.catch_warnings():  # "sparse CSR support is in beta": known, not actionable
                warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support.*")
                self._norm_adj = torch.sparse_csr_tensor(self.rowptr, self.col, self.gcn_weight,
                                                         size=(self.num_nodes, self.num_nodes),
                                                         check_invariants=False)
        return self._norm_adj

    def transpose(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The transposed CSR ``(t_rowptr [N+1], t_row [E], t_eid [E])`` (:func:`darts_gnn.ops.csr_transpose`),
        computed once and kept: the same tensors that the fused op's backward uses for this graph."""
        if self._transpose is None:
            self._transpose = csr_transpose(self.rowptr, self.col)
        return self._transpose

    def to(self, device) -> "Graph":
        g = Graph.__new__(Graph)
        g.n_users, g.n_items = self.n_users, self.n_items
        for name in ("rowptr", "col", "deg", "dinv", "row", "gcn_weight"):
            setattr(g, name, getattr(self, name).to(device))
        g._norm_adj = None
        g._transpose = None
        return g

    def __repr__(self) -> str:
        return f"Graph(users={self.n_users}, items={self.n_items}, edges={self.num_edges})"
