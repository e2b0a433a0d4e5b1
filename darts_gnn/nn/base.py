"""The interface every recommender model in darts-gnn implements, and the shared sparse product."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Recommender", "sym_spmm", "eval_embeddings"]


class _SymSpMM(torch.autograd.Function):
    """``adj @ x`` for a *symmetric* sparse ``adj``; the backward reuses ``adj`` as its own transpose.

    Plain autograd through ``torch.sparse.mm`` builds ``adj.t()`` (a CSR -> CSC conversion) on every
    backward pass, which costs about ten times the product itself. The backward calls this function
    again, so double backward works too.
    """

    @staticmethod
    def forward(ctx, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, _SymSpMM.apply(ctx.adj, grad.contiguous())


def sym_spmm(adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Sparse-dense product :math:`\hat A X` for a symmetric sparse ``adj`` ``[N, N]`` and ``x`` ``[N, d]``.

    ``adj`` must equal its transpose (true for :meth:`darts_gnn.data.Graph.norm_adj`); gradients
    flow to ``x`` only.
    """
    if adj.size(0) != adj.size(1) or adj.size(1) != x.size(0):
        raise ValueError(f"sym_spmm: expected a square adjacency [N, N] and x [N, d], got "
                         f"{tuple(adj.shape)} and {tuple(x.shape)}")
    return _SymSpMM.apply(adj, x)


class Recommender(nn.Module):
    r"""Base class of embedding recommenders scored by an inner product.

    Subclasses implement :meth:`embeddings` (final user ``[U, d]`` and item ``[I, d]`` vectors after any
    propagation, recomputed on every call so that gradients flow), :meth:`ego_embeddings` (the
    layer-0 tables that the BPR L2 term penalises) and :meth:`reset_parameters`.
    The score of user ``u`` for item ``i`` is :math:`\langle e_u, e_i \rangle`.
    """

    n_users: int
    n_items: int

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def ego_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer-0 tables ``(users [U, d], items [I, d])``; by default those of :meth:`init_tables`."""
        if "user_emb" not in self._modules:
            raise NotImplementedError(f"{type(self).__name__} has no ego tables: override ego_embeddings()")
        return self.user_emb.weight, self.item_emb.weight

    def init_tables(self, dim: int) -> None:
        """Create the ego tables ``user_emb [U, dim]`` and ``item_emb [I, dim]`` (``n_users`` /
        ``n_items`` must be set); :meth:`reset_tables` initialises them."""
        self.user_emb = nn.Embedding(self.n_users, dim)
        self.item_emb = nn.Embedding(self.n_items, dim)

    def reset_tables(self) -> None:
        """Ego tables drawn from :math:`\\mathcal N(0, 0.1^2)`, as in the LightGCN reference."""
        nn.init.normal_(self.user_emb.weight, std=0.1)
        nn.init.normal_(self.item_emb.weight, std=0.1)

    def reset_parameters(self) -> None:
        raise NotImplementedError

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embeddings()

    @torch.no_grad()
    def score(self, users: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, I]`` of ``users`` ``[B]`` against every item (recomputes the embeddings;
        to score many batches, call :meth:`embeddings` once, as :class:`darts_gnn.tasks.metrics.Evaluator` does)."""
        u, i = self.embeddings()
        return u[users] @ i.t()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@torch.no_grad()
def eval_embeddings(model) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.embeddings()`` in eval mode and without autograd, the training flag restored after:
    the final ``(users [U, d], items [I, d])`` that evaluation, export and serving score with (eval
    mode: deterministic relaxation weights, no edge dropout). Works for any module with
    ``embeddings()``."""
    was = model.training
    model.eval()
    try:
        return model.embeddings()
    finally:
        model.train(was)
