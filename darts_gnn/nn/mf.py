"""BPR matrix factorisation."""
from __future__ import annotations

import torch

from .base import Recommender

__all__ = ["MF"]


class MF(Recommender):
    r"""Matrix factorisation trained with BPR (Rendle et al., 2009).

    .. math::
        \hat y_{ui} = \langle e_u, e_i \rangle

    with free tables :math:`E_U` ``[U, dim]`` and :math:`E_I` ``[I, dim]``, initialised
    :math:`\mathcal N(0, 0.1^2)` as in the LightGCN reference code. No propagation: the final and the
    ego embeddings are the same tables.

    Args:
        n_users: number of users ``U``.
        n_items: number of items ``I``.
        dim: embedding size ``d``.
    """

    def __init__(self, n_users: int, n_items: int, dim: int = 64):
        super().__init__()
        if n_users <= 0 or n_items <= 0 or dim <= 0:
            raise ValueError(f"MF: n_users, n_items and dim must be positive, got {n_users}, {n_items}, {dim}")
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.init_tables(self.dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.reset_tables()

    def embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user_emb.weight, self.item_emb.weight

    def extra_repr(self) -> str:
        return f"users={self.n_users}, items={self.n_items}, dim={self.dim}"
