r"""Architecture parameters α held apart from the weights.

:class:`ArchParameters` keeps one logit row ``[K_c]`` per searched choice ``c`` as a *buffer* that
requires grad: it is saved in the supernet's ``state_dict`` (keys ``alpha.<i>``, as before) and moved
by ``.to(device)``, but it is **not** in ``parameters()``. So a generic weight loop,
``torch.optim.Adam(supernet.parameters())``, cannot train α on the training loss; α is trained only by
the :class:`~darts_gnn.search.architect.Architect`, which asks for
:meth:`~darts_gnn.search.SuperNet.arch_parameters` explicitly.

.. code-block:: python

    alpha = ArchParameters([4, 3])        # two choices with 4 and 3 candidates, zeros
    alpha[0].requires_grad                # True: a leaf tensor for an optimiser
    list(alpha.parameters())              # []: not weights
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

__all__ = ["ArchParameters"]


class ArchParameters(nn.Module):
    """Rows of architecture logits ``alpha[i]`` ``[sizes[i]]``, zeros at construction.

    Leaf tensors with ``requires_grad=True``, stored as persistent buffers named ``"0"``, ``"1"``, ...
    After a device or dtype move (``.to``, ``.cuda``, ``.double``) they are leaves again; build the α
    optimiser after moving the model.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__()
        for i, k in enumerate(sizes):
            if int(k) < 1:
                raise ValueError(f"ArchParameters: row {i} needs at least one candidate, got {k}")
            self.register_buffer(str(i), torch.zeros(int(k), requires_grad=True))

    def _apply(self, fn, recurse: bool = True):  # noqa: D401 - nn.Module hook
        super()._apply(fn, recurse)
        for name, buf in self._buffers.items():
            if buf is not None and buf.is_floating_point() and not (buf.is_leaf and buf.requires_grad):
                self._buffers[name] = buf.detach().requires_grad_(True)
        return self

    def __getitem__(self, i: int) -> Tensor:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ArchParameters has {n} rows, got index {i}")
        return self._buffers[str(i % n)]

    def __len__(self) -> int:
        return len(self._buffers)

    def __iter__(self) -> Iterator[Tensor]:
        return (self._buffers[str(i)] for i in range(len(self)))

    def extra_repr(self) -> str:
        return "rows=[" + ", ".join(str(b.numel()) for b in self) + "]"
