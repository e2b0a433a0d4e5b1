r"""The hot op of the supernet: fused mixed neighbourhood aggregation.

.. code-block:: python

    from darts_gnn.ops import mixed_aggregate, backend
    out = mixed_aggregate(rowptr, col, x, weights, ("sum", "mean", "gcn", "max", "min"))
    stack = aggregate_stack(rowptr, col, x, ("sum", "max"))  # [2, N, d], one fused pass
    backend()  # 'cpp-cpu' (fused C++ kernel), 'cuda' (fused CPU + CUDA kernels) or 'reference'

See ``docs/kernels.md`` for semantics, gradients, build and fallback.
"""
from . import reference
from ._checks import AGGREGATORS
from .csr import csr_transpose, inv_sqrt_degree
from .mixed import aggregate_stack, backend, mixed_aggregate

__all__ = ["mixed_aggregate", "aggregate_stack", "backend", "reference", "AGGREGATORS", "csr_transpose",
           "inv_sqrt_degree"]
