"""Tests of darts_gnn.ops.mixed_aggregate: the reference, the fused CPU kernel, autograd, compile.

The first test that needs the fused kernel builds it (JIT, ~1 min on first use, cached afterwards).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import warnings

import pytest
import torch

from darts_gnn.ops import AGGREGATORS, backend, mixed_aggregate, reference

ALL = ("sum", "mean", "gcn", "max", "min")
LINEAR = ("sum", "mean", "gcn")


# -------------------------------------------------------------------------------------------- graphs

def make_graph(n: int, e: int, seed: int = 0, *, powerlaw: bool = False, empty_rows: int = 3,
               self_loops: int = 3, duplicates: int = 3, device: str = "cpu"):
    """Random CSR (rowptr, col) over n nodes, with empty rows, self-loops and duplicate entries."""
    gen = torch.Generator().manual_seed(seed)
    if powerlaw:  # endpoints ~ rank^-1.1: a few hubs with many entries
        p = torch.arange(1, n + 1, dtype=torch.float64) ** -1.1
        row = torch.multinomial(p, e, replacement=True, generator=gen)
        col = torch.multinomial(p, e, replacement=True, generator=gen)
    else:
        row = torch.randint(0, n, (e,), generator=gen)
        col = torch.randint(0, n, (e,), generator=gen)
    empty = torch.randperm(n, generator=gen)[:empty_rows]
    keep = ~torch.isin(row, empty)
    row, col = row[keep], col[keep]
    nodes = torch.randperm(n, generator=gen)
    loops = nodes[~torch.isin(nodes, empty)][:self_loops]
    row, col = torch.cat([row, loops]), torch.cat([col, loops])
    if duplicates and row.numel():
        pick = torch.randint(0, row.numel(), (duplicates,), generator=gen)
        row, col = torch.cat([row, row[pick]]), torch.cat([col, col[pick]])
    order = torch.argsort(row * n + col, stable=True)
    row, col = row[order], col[order]
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = torch.bincount(row, minlength=n).cumsum(0)
    return rowptr.to(device), col.to(device)


def brute_force(rowptr, col, x, weights, ops, edge_weight=None):
    """Definition of the op, one row and one column at a time (tiny inputs only)."""
    n, d = x.shape
    deg = [int(rowptr[v + 1] - rowptr[v]) for v in range(n)]
    out = torch.zeros(n, d, dtype=torch.float64)
    for v in range(n):
        entries = range(int(rowptr[v]), int(rowptr[v + 1]))
        if not entries:
            continue
        msgs = [(1.0 if edge_weight is None else float(edge_weight[e])) * x[col[e]].double() for e in entries]
        for k, op in enumerate(ops):
            if op == "sum":
                agg = sum(msgs)
            elif op == "mean":
                agg = sum(msgs) / deg[v]
            elif op == "gcn":
                agg = sum(m / (deg[v] * deg[int(col[e])]) ** 0.5 if deg[int(col[e])] else 0 * m
                          for m, e in zip(msgs, entries))
            else:
                agg = torch.stack(msgs).amax(0) if op == "max" else torch.stack(msgs).amin(0)
            out[v] += float(weights[k]) * agg
    return out


def inputs(n=40, e=160, d=8, seed=0, dtype=torch.float64, ops=ALL, ew=True, powerlaw=False, grad=True):
    rowptr, col = make_graph(n, e, seed, powerlaw=powerlaw)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, d, generator=gen, dtype=dtype).requires_grad_(grad)
    w = torch.rand(len(ops), generator=gen, dtype=dtype).requires_grad_(grad)
    edge_weight = (torch.rand(col.numel(), generator=gen, dtype=dtype) + 0.5).requires_grad_(grad) if ew else None
    return rowptr, col, x, w, edge_weight


# ----------------------------------------------------------------------------------------- reference

@pytest.mark.parametrize("ew", [False, True])
def test_reference_matches_definition(ew):
    rowptr, col, x, w, edge_weight = inputs(n=12, e=40, d=3, ew=ew, grad=False)
    out = reference.mixed_aggregate(rowptr, col, x, w, ALL, edge_weight)
    torch.testing.assert_close(out, brute_force(rowptr, col, x, w, ALL, edge_weight))


def test_reference_empty_rows_are_zero():
    rowptr = torch.tensor([0, 0, 2, 2])
    col = torch.tensor([0, 2])
    x = torch.randn(3, 4)
    out = reference.mixed_aggregate(rowptr, col, x, torch.ones(5), ALL)
    assert torch.equal(out[0], torch.zeros(4)) and torch.equal(out[2], torch.zeros(4))


def test_reference_gcn_uses_row_counts():
    # node 0 <- {1, 1 (duplicate), 2}; deg(0) = 3, deg(1) = 1, deg(2) = 0 -> coefficient 0
    rowptr = torch.tensor([0, 3, 4, 4])
    col = torch.tensor([1, 1, 2, 0])
    x = torch.tensor([[1.0], [2.0], [5.0]], dtype=torch.float64)
    out = reference.mixed_aggregate(rowptr, col, x, torch.ones(1, dtype=torch.float64), ("gcn",))
    torch.testing.assert_close(out[0, 0], torch.tensor(2 * 2.0 / 3 ** 0.5, dtype=torch.float64))


def test_reference_is_differentiable():
    rowptr, col, x, w, edge_weight = inputs(n=8, e=20, d=2, ops=LINEAR)
    assert torch.autograd.gradcheck(lambda a, b, c: reference.mixed_aggregate(rowptr, col, a, b, LINEAR, c),
                                    (x, w, edge_weight))


# ------------------------------------------------------------------------------------------ validation

@pytest.mark.parametrize("kwargs, match", [
    (dict(ops=("sum", "median")),
     r"unknown aggregator.*'median'.*allowed values are \('sum', 'mean', 'gcn', 'max', 'min'\)"),
    (dict(ops="sum"), "single string"),
    (dict(ops=()), "empty"),
    (dict(weights=torch.ones(3)), "one entry per aggregator"),
    (dict(x=torch.ones(5, 2, dtype=torch.int64)), "floating"),
    (dict(x=torch.ones(4, 2)), "4 rows but rowptr describes 5 rows"),
    (dict(col=torch.tensor([0, 1, 2], dtype=torch.int32)), "int64"),
    (dict(rowptr=torch.tensor([0, 1, 2, 3, 3, 4])), "end at E"),
    (dict(edge_weight=torch.ones(4)), r"edge_weight must be 1-D \[E\]"),
])
def test_validation_errors(kwargs, match):
    args = dict(rowptr=torch.tensor([0, 1, 2, 3, 3, 3]), col=torch.tensor([1, 2, 0]), x=torch.ones(5, 2),
                weights=torch.ones(2), ops=("sum", "max"), edge_weight=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mixed_aggregate(**args)
    with pytest.raises(ValueError, match=match):
        reference.mixed_aggregate(**args)


def test_fused_checks_col_range_and_rowptr(fused):
    x = torch.ones(3, 2)
    with pytest.raises(RuntimeError, match="out of range"):
        mixed_aggregate(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 7]), x, torch.ones(1), ("sum",))
    with pytest.raises(RuntimeError, match="not a valid CSR row pointer"):
        mixed_aggregate(torch.tensor([0, 2, 1, 2]), torch.tensor([0, 1]), x, torch.ones(1), ("sum",))


def test_aggregators_constant():
    assert AGGREGATORS == ALL


# ------------------------------------------------------------------------------------ fused vs reference

GRAPHS = [dict(n=40, e=160, powerlaw=False), dict(n=60, e=600, powerlaw=True), dict(n=1, e=0, powerlaw=False)]


@pytest.mark.parametrize("graph", GRAPHS, ids=["uniform", "powerlaw", "single-node"])
@pytest.mark.parametrize("d", [1, 7, 64, 70])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ew", [False, True])
def test_fused_forward_matches_reference(fused, graph, d, dtype, ew):
    rowptr, col = make_graph(graph["n"], graph["e"], powerlaw=graph["powerlaw"], empty_rows=min(3, graph["n"] - 1))
    x = torch.randn(graph["n"], d, dtype=dtype)
    w = torch.rand(5, dtype=dtype)
    edge_weight = torch.rand(col.numel(), dtype=dtype) + 0.5 if ew else None
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(mixed_aggregate(rowptr, col, x, w, ALL, edge_weight),
                               reference.mixed_aggregate(rowptr, col, x, w, ALL, edge_weight), **tol)


@pytest.mark.parametrize("ops", [ALL, ("max",), ("min", "gcn"), ("mean",), ("sum", "sum", "max"), LINEAR])
@pytest.mark.parametrize("d", [5, 64, 72])
@pytest.mark.parametrize("powerlaw", [False, True])
def test_fused_gradients_match_reference(fused, ops, d, powerlaw):
    # with edge weights every message is distinct, so max/min have no ties and torch's even split of
    # tied gradients never applies
    rowptr, col, x, w, edge_weight = inputs(n=50, e=300, d=d, ops=ops, powerlaw=powerlaw)
    out = mixed_aggregate(rowptr, col, x, w, ops, edge_weight)
    ref = reference.mixed_aggregate(rowptr, col, x, w, ops, edge_weight)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, (x, w, edge_weight), g), torch.autograd.grad(ref, (x, w, edge_weight), g)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("need", ["x", "weights", "edge_weight", "x+weights"])
def test_fused_partial_gradients(fused, need):
    rowptr, col, x, w, edge_weight = inputs(n=30, e=120, d=16)
    x.requires_grad_("x" in need)
    w.requires_grad_("weights" in need)
    edge_weight.requires_grad_(need == "edge_weight")
    leaves = [t for t in (x, w, edge_weight) if t.requires_grad]
    g = torch.randn(30, 16, dtype=torch.float64)
    got = torch.autograd.grad(mixed_aggregate(rowptr, col, x, w, ALL, edge_weight), leaves, g)
    want = torch.autograd.grad(reference.mixed_aggregate(rowptr, col, x, w, ALL, edge_weight), leaves, g)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_fused_no_grad_and_inference(fused):
    rowptr, col, x, w, edge_weight = inputs(grad=False)
    with torch.no_grad():
        out = mixed_aggregate(rowptr, col, x, w, ALL, edge_weight)
    assert not out.requires_grad
    torch.testing.assert_close(out, reference.mixed_aggregate(rowptr, col, x, w, ALL, edge_weight))


def test_fused_empty_and_degenerate_shapes(fused):
    for n, d in [(0, 4), (5, 0), (3, 4)]:
        rowptr = torch.zeros(n + 1, dtype=torch.long)
        col = torch.zeros(0, dtype=torch.long)
        x = torch.randn(n, d, requires_grad=True)
        w = torch.ones(5, requires_grad=True)
        out = mixed_aggregate(rowptr, col, x, w, ALL)
        assert out.shape == (n, d) and (out == 0).all()
        out.sum().backward()
        assert torch.equal(x.grad, torch.zeros(n, d)) and torch.equal(w.grad, torch.zeros(5))


def test_fused_noncontiguous_and_weight_dtype(fused):
    rowptr, col, x, _, edge_weight = inputs(d=6, grad=False, dtype=torch.float32)
    xt = x.t().contiguous().t()  # column-major view
    w = torch.rand(5, dtype=torch.float64)  # weights in another dtype are accepted
    torch.testing.assert_close(mixed_aggregate(rowptr, col, xt, w, ALL, edge_weight),
                               reference.mixed_aggregate(rowptr, col, x, w, ALL, edge_weight))


@pytest.mark.parametrize("ops", [LINEAR, ("gcn",), ("sum", "mean")])
def test_fused_gradcheck_linear(fused, ops):
    rowptr, col, x, w, edge_weight = inputs(n=20, e=70, d=5, ops=ops)
    assert torch.autograd.gradcheck(lambda a, b, c: mixed_aggregate(rowptr, col, a, b, ops, c), (x, w, edge_weight))


def test_fused_gradcheck_weights_with_extrema(fused):
    # the weights enter linearly, so finite differences are exact even through max/min
    rowptr, col, x, w, edge_weight = inputs(n=20, e=70, d=5, ops=ALL)
    assert torch.autograd.gradcheck(lambda b: mixed_aggregate(rowptr, col, x.detach(), b, ALL, edge_weight.detach()),
                                    (w,))


@pytest.mark.parametrize("op", ["max", "min"])
def test_extremum_routes_to_first_winner(fused, op):
    # row 0 <- {1, 2, 1 (duplicate: a tie), 3}; the gradient of every column goes to the first entry
    # (in CSR order) holding the extremum, never split between tied entries
    rowptr = torch.tensor([0, 4, 4, 4, 4])
    col = torch.tensor([1, 2, 1, 3])
    x = torch.tensor([[0.0, 0, 0], [5, -1, 2], [3, 7, 2], [-4, 0, 9]], dtype=torch.float64, requires_grad=True)
    ew = torch.ones(4, dtype=torch.float64, requires_grad=True)
    out = mixed_aggregate(rowptr, col, x, torch.ones(1, dtype=torch.float64), (op,), ew)
    out[0].sum().backward()
    want_entry = {"max": [0, 1, 3], "min": [3, 0, 0]}[op]  # per column: index of the winning entry
    gx = torch.zeros_like(x)
    gew = torch.zeros(4, dtype=torch.float64)
    for j, entry in enumerate(want_entry):
        gx[col[entry], j] += 1.0
        gew[entry] += x[col[entry], j].item()
    assert torch.equal(x.grad, gx)
    assert torch.equal(ew.grad, gew)


def test_extremum_routing_matches_brute_force_on_distinct_values(fused):
    rowptr, col = make_graph(30, 150, seed=3, duplicates=0)
    x = torch.randn(30, 9, dtype=torch.float64, requires_grad=True)
    for op in ("max", "min"):
        x.grad = None
        out = mixed_aggregate(rowptr, col, x, torch.ones(1, dtype=torch.float64), (op,))
        out.backward(torch.ones_like(out))
        want = torch.zeros_like(x)
        for v in range(30):
            entries = list(range(int(rowptr[v]), int(rowptr[v + 1])))
            for j in range(9):
                if entries:
                    vals = [x[col[e], j].item() for e in entries]
                    best = (max if op == "max" else min)(range(len(vals)), key=lambda i: vals[i])
                    want[col[entries[best]], j] += 1
        assert torch.equal(x.grad, want)


# ----------------------------------------------------------------------------------- determinism, ISA

def _run_all(rowptr, col, x, w, edge_weight):
    x, w, edge_weight = (t.detach().requires_grad_(True) for t in (x, w, edge_weight))
    out = mixed_aggregate(rowptr, col, x, w, ALL, edge_weight)
    out.backward(torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out))
    return out.detach(), x.grad, w.grad, edge_weight.grad


def test_fused_deterministic_across_runs_and_threads(fused):
    rowptr, col, x, w, edge_weight = inputs(n=300, e=3000, d=40, dtype=torch.float32, powerlaw=True)
    threads = torch.get_num_threads()
    try:
        first = _run_all(rowptr, col, x, w, edge_weight)
        again = _run_all(rowptr, col, x, w, edge_weight)
        torch.set_num_threads(1)
        single = _run_all(rowptr, col, x, w, edge_weight)
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(first, again, single):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_generic_and_vector_isa_agree(fused, monkeypatch):
    # float32 runs the AVX2 copy of the row loops where the CPU has it; force the baseline copy
    rowptr, col, x, w, edge_weight = inputs(n=80, e=500, d=48, dtype=torch.float32, powerlaw=True)
    fast = _run_all(rowptr, col, x, w, edge_weight)
    monkeypatch.setenv("DARTS_GNN_CPU_ISA", "generic")
    generic = _run_all(rowptr, col, x, w, edge_weight)
    for a, b in zip(fast, generic):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ transpose

def test_csr_transpose_is_a_stable_sort(fused):
    from darts_gnn.ops import _fused

    rowptr, col = make_graph(50, 400, seed=5, powerlaw=True)
    t_rowptr, t_row, t_eid = torch.ops.darts_gnn.csr_transpose(rowptr, col)
    perm = torch.argsort(col, stable=True)
    row = torch.repeat_interleave(torch.arange(50), rowptr.diff())
    assert torch.equal(t_eid, perm) and torch.equal(t_row, row[perm])
    assert torch.equal(t_rowptr[1:], torch.bincount(col, minlength=50).cumsum(0)) and t_rowptr[0] == 0
    cached = _fused.csr_transpose(rowptr, col)
    assert _fused.csr_transpose(rowptr, col)[0] is cached[0]
    col[0] = col[1]  # an in-place edit invalidates the cache entry
    assert _fused.csr_transpose(rowptr, col)[0] is not cached[0]


# ---------------------------------------------------------------------------------- opcheck, compile

def _opcheck_samples():
    rowptr, col, x, w, edge_weight = inputs(n=12, e=40, d=5, grad=True)
    return [
        (rowptr, col, x, w, [0, 1, 2, 3, 4], edge_weight, True),
        (rowptr, col, x, w[:2], [2, 3], None, True),
        (rowptr, col, x.detach(), w[:1].detach(), [1], None, False),
    ]


def test_opcheck_mixed_aggregate(fused):
    for args in _opcheck_samples():
        torch.library.opcheck(torch.ops.darts_gnn.mixed_aggregate.default, args,
                              test_utils=("test_schema", "test_autograd_registration", "test_faketensor",
                                          "test_aot_dispatch_dynamic"))


def test_opcheck_backward_and_transpose(fused):
    rowptr, col, x, w, edge_weight = inputs(n=12, e=40, d=5, grad=False)
    ops = [0, 1, 2, 3, 4]
    _, arg = torch.ops.darts_gnn.mixed_aggregate(rowptr, col, x, w, ops, edge_weight, True)
    t = torch.ops.darts_gnn.csr_transpose(rowptr, col)
    grad = torch.randn_like(x)
    for mask in ([True, True, True], [False, True, False]):
        torch.library.opcheck(torch.ops.darts_gnn.mixed_aggregate_backward.default,
                              (grad, rowptr, col, x, w, ops, edge_weight, arg, *t, mask),
                              test_utils=("test_schema", "test_faketensor"))
    torch.library.opcheck(torch.ops.darts_gnn.csr_transpose.default, (rowptr, col),
                          test_utils=("test_schema", "test_faketensor"))


class _TinyMixedGNN(torch.nn.Module):
    def __init__(self, rowptr, col, n, d):
        super().__init__()
        self.rowptr, self.col = rowptr, col
        self.emb = torch.nn.Parameter(torch.randn(n, d))
        self.alpha = torch.nn.Parameter(torch.zeros(2, 5))

    def forward(self):
        h = self.emb
        for layer in range(2):
            h = mixed_aggregate(self.rowptr, self.col, h, torch.softmax(self.alpha[layer], 0), ALL)
        return (h * self.emb).sum()


def test_torch_compile_fullgraph(fused):
    rowptr, col = make_graph(30, 120, seed=7)
    model = _TinyMixedGNN(rowptr, col, 30, 8)
    eager = model()
    eager.backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    got = compiled()
    got.backward()
    torch.testing.assert_close(got, eager)
    for p, g in zip(model.parameters(), want):
        torch.testing.assert_close(p.grad, g)


# ----------------------------------------------------------------------------------- backend, fallback

def test_backend_name(fused):
    assert fused in ("cpp-cpu", "cuda")
    assert backend() == fused


def test_no_ext_env_forces_reference():
    code = "import darts_gnn.ops as o; print(o.backend())"
    env = dict(os.environ, DARTS_GNN_NO_EXT="1")
    env.pop("DARTS_GNN_REQUIRE_EXT", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reference"
    assert "Warning" not in result.stderr


def test_failed_build_warns_once_and_falls_back(tmp_path, monkeypatch):
    # a private copy of the loader module, pointed at a directory without sources
    import darts_gnn.ops._extension as real

    spec = importlib.util.spec_from_file_location("_extension_copy", real.__file__)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    monkeypatch.setattr(loader, "source_dir", lambda: tmp_path)
    monkeypatch.delenv("DARTS_GNN_NO_EXT", raising=False)
    monkeypatch.delenv("DARTS_GNN_REQUIRE_EXT", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert loader.load() is False
        assert loader.load() is False
    assert len(caught) == 1 and "pure-PyTorch reference" in str(caught[0].message)
    assert "reference fallback" in loader.status()


def test_required_extension_turns_a_failed_build_into_an_error(tmp_path, monkeypatch):
    # DARTS_GNN_REQUIRE_EXT=1 (set by .ci/run): a broken build raises instead of falling back
    import darts_gnn.ops._extension as real

    spec = importlib.util.spec_from_file_location("_extension_copy", real.__file__)
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    monkeypatch.setattr(loader, "source_dir", lambda: tmp_path)
    monkeypatch.setenv("DARTS_GNN_REQUIRE_EXT", "1")
    monkeypatch.delenv("DARTS_GNN_NO_EXT", raising=False)
    with pytest.raises(RuntimeError, match="DARTS_GNN_REQUIRE_EXT is set") as info:
        loader.load()
    assert "C++ sources not found" in str(info.value)
    # an explicit DARTS_GNN_NO_EXT=1 (a choice, not a failure) still selects the reference
    spec.loader.exec_module(loader)
    monkeypatch.setattr(loader, "source_dir", lambda: tmp_path)
    monkeypatch.setenv("DARTS_GNN_NO_EXT", "1")
    assert loader.load() is False and "DARTS_GNN_NO_EXT" in loader.status()


# ------------------------------------------------------------------------------------------------ CUDA

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [7, 64, 200])
def test_cuda_matches_reference(dtype, d):
    assert backend() == "cuda"
    rowptr, col = make_graph(300, 3000, seed=11, powerlaw=True)
    gen = torch.Generator().manual_seed(0)
    # inputs rounded to dtype; the reference runs on CPU in float32/float64 from the same values, so
    # every message is computed exactly alike and max/min pick the same winners
    x = torch.randn(300, d, generator=gen).to(dtype)
    ew = (torch.rand(col.numel(), generator=gen) + 0.5).to(dtype)
    w = torch.rand(5, generator=gen)
    g = torch.randn(300, d, generator=gen).to(dtype)
    low = dtype in (torch.float16, torch.bfloat16)
    ref_dtype = torch.float32 if low else dtype
    ops = LINEAR if low else ALL  # low precision: exact ties are frequent, and torch splits tied gradients
    for which in ("forward", "backward"):
        use = ALL if which == "forward" else ops
        wk = w[:len(use)]
        ref_leaves = [t.to(ref_dtype).requires_grad_(True) for t in (x, wk, ew)]
        ref = reference.mixed_aggregate(rowptr, col, ref_leaves[0], ref_leaves[1], use, ref_leaves[2])
        dev = [t.cuda().requires_grad_(True) for t in (x, wk, ew)]
        out = mixed_aggregate(rowptr.cuda(), col.cuda(), dev[0], dev[1], use, dev[2])
        assert out.dtype == dtype
        tol = {torch.float64: 1e-9, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}[dtype]
        torch.testing.assert_close(out.to(ref_dtype).cpu(), ref.detach(), rtol=tol, atol=tol)
        if which == "backward":
            grads = torch.autograd.grad(out, dev, g.cuda())
            ref_grads = torch.autograd.grad(ref, ref_leaves, g.to(ref_dtype))
            for a, b in zip(grads, ref_grads):
                torch.testing.assert_close(a.to(ref_dtype).cpu(), b, rtol=10 * tol, atol=10 * tol)


@pytest.mark.cuda
@cuda
def test_cuda_deterministic_and_opcheck():
    rowptr, col, x, w, ew = (t.cuda() if t is not None else None for t in inputs(n=50, e=300, d=33, grad=False))
    runs = []
    for _ in range(2):
        leaves = [t.clone().requires_grad_(True) for t in (x, w, ew)]
        out = mixed_aggregate(rowptr, col, leaves[0], leaves[1], ALL, leaves[2])
        runs.append((out, *torch.autograd.grad(out, leaves, torch.ones_like(out))))
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    torch.library.opcheck(torch.ops.darts_gnn.mixed_aggregate.default,
                          (rowptr, col, x.requires_grad_(True), w.requires_grad_(True), [0, 1, 2, 3, 4], ew, True))


@pytest.mark.slow
def test_torch_compile_inductor(fused):
    """The default inductor backend (generates and compiles C++ for the rest of the graph: ~1 min)."""
    rowptr, col = make_graph(30, 120, seed=7)
    model = _TinyMixedGNN(rowptr, col, 30, 8)
    eager = model()
    eager.backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    got = torch.compile(model, fullgraph=True)()
    got.backward()
    torch.testing.assert_close(got, eager)
    for p, g in zip(model.parameters(), want):
        torch.testing.assert_close(p.grad, g)
