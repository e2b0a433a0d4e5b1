"""Input validation and aggregator codes shared by the fused op and the reference."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import torch

try:  # FakeTensor carries no data: skip value checks while tracing
    from torch._subclasses.fake_tensor import FakeTensor as _FakeTensor
except ImportError:  # pragma: no cover
    _FakeTensor = ()

__all__ = ["AGGREGATORS", "check_inputs", "op_codes"]

_TABLE = Path(__file__).with_name("aggregators.def")


def _read_table(path: Path = _TABLE) -> tuple[str, ...]:
    """The aggregator names of ``aggregators.def`` (the table the C++/CUDA sources include), in code order."""
    names = tuple(re.findall(r"^DARTS_GNN_AGGREGATOR\(k\w+,\s*(\w+)\)\s*$", path.read_text(), flags=re.M))
    if not names:
        raise RuntimeError(f"{path}: no DARTS_GNN_AGGREGATOR(kName, name) lines; the aggregator table is damaged")
    return names


#: The candidate aggregators, in the order of their integer codes in the C++ schema
#: (read from ``darts_gnn/ops/aggregators.def``, the one table shared with the C++ and CUDA sources).
AGGREGATORS: tuple[str, ...] = _read_table()

_CODE = {name: i for i, name in enumerate(AGGREGATORS)}
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def op_codes(ops: Sequence[str]) -> list[int]:
    """Map aggregator names to the integer codes of the ``darts_gnn::mixed_aggregate`` schema."""
    if isinstance(ops, str):
        raise ValueError(f"ops must be a sequence of aggregator names such as ('sum', 'max'), "
                         f"got the single string {ops!r}; wrap it: ({ops!r},)")
    ops = tuple(ops)
    if len(ops) == 0:
        raise ValueError(f"ops is empty; give at least one of {AGGREGATORS}")
    bad = [o for o in ops if o not in _CODE]
    if bad:
        raise ValueError(f"unknown aggregator(s) {bad} in ops={ops}; allowed values are {AGGREGATORS}")
    return [_CODE[o] for o in ops]


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling())


def check_inputs(rowptr: torch.Tensor, col: torch.Tensor, x: torch.Tensor, weights: Optional[torch.Tensor],
                 ops: Sequence[str], edge_weight: Optional[torch.Tensor] = None) -> list[int]:
    """Validate the arguments of :func:`~darts_gnn.ops.mixed_aggregate`; return the op codes.

    ``weights=None`` validates the arguments of :func:`~darts_gnn.ops.aggregate_stack` (no weights).
    Checks metadata (dtypes, shapes, devices) always. On CPU, outside ``torch.compile``, it also
    checks the cheap O(1) values ``rowptr[0] == 0`` and ``rowptr[-1] == col.numel()``; the fused
    CPU kernel checks monotonicity of ``rowptr`` and the range of ``col`` as it runs.
    """
    codes = op_codes(ops)
    named = (("rowptr", rowptr), ("col", col), ("x", x)) + ((("weights", weights),) if weights is not None else ())
    for name, t in named:
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if rowptr.dtype != torch.int64 or col.dtype != torch.int64:
        raise ValueError(f"rowptr and col must be int64 (torch.long), got rowptr {rowptr.dtype} and "
                         f"col {col.dtype}; convert with .long()")
    if rowptr.dim() != 1 or rowptr.numel() < 1:
        raise ValueError(f"rowptr must be 1-D with N+1 >= 1 entries, got shape {tuple(rowptr.shape)}")
    if col.dim() != 1:
        raise ValueError(f"col must be 1-D [E], got shape {tuple(col.shape)}")
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [N, d], got shape {tuple(x.shape)}")
    if x.dtype not in _FLOATS:
        raise ValueError(f"x must be a floating tensor (float32/float64, or float16/bfloat16 on CUDA), "
                         f"got {x.dtype}")
    n = rowptr.numel() - 1
    if x.size(0) != n:
        raise ValueError(f"x has {x.size(0)} rows but rowptr describes {n} rows (rowptr has "
                         f"{rowptr.numel()} entries = N+1); the adjacency must be square N x N")
    if weights is not None and (weights.dim() != 1 or weights.numel() != len(codes)):
        raise ValueError(f"weights must be 1-D with one entry per aggregator (K={len(codes)} for "
                         f"ops={tuple(ops)}), got shape {tuple(weights.shape)}")
    if weights is not None and not weights.is_floating_point():
        raise ValueError(f"weights must be floating point, got {weights.dtype}")
    if edge_weight is not None:
        if not isinstance(edge_weight, torch.Tensor):
            raise ValueError(f"edge_weight must be a torch.Tensor or None, got {type(edge_weight).__name__}")
        if edge_weight.dim() != 1 or edge_weight.numel() != col.numel():
            raise ValueError(f"edge_weight must be 1-D [E] with E = col.numel() = {col.numel()}, "
                             f"got shape {tuple(edge_weight.shape)}")
        if not edge_weight.is_floating_point():
            raise ValueError(f"edge_weight must be floating point, got {edge_weight.dtype}")
    devices = {t.device for _, t in named + ((("edge_weight", edge_weight),) if edge_weight is not None else ())}
    if len(devices) > 1:
        raise ValueError(f"all tensors must be on one device, got {sorted(str(d) for d in devices)}")
    if x.device.type == "cpu" and not _is_compiling() and not isinstance(rowptr, _FakeTensor):
        first, last = int(rowptr[0]), int(rowptr[-1])
        if first != 0 or last != col.numel():
            raise ValueError(f"rowptr must start at 0 and end at E = col.numel() = {col.numel()}, got "
                             f"rowptr[0] = {first}, rowptr[-1] = {last}")
    return codes
