"""Exact higher-order autograd of the fused op, and the fused one-pass ``aggregate_stack``.

The fused backward is itself differentiable (``darts_gnn/ops/_fused.py``): double backward must equal
the reference's, not silently return zeros. ``aggregate_stack`` writes every aggregator's output
separately in one pass; it must equal the reference's K passes, with gradients of every order.
"""
from __future__ import annotations

import pytest
import torch

from darts_gnn.ops import aggregate_stack, mixed_aggregate, reference
from test_ops import ALL, LINEAR, inputs, make_graph

DT = torch.float64
OPS = [ALL, ("max",), ("min", "gcn"), ("sum", "sum", "max"), ("mean",), LINEAR]


def _second_order(agg, ops, stack: bool, seed: int = 0):
    """First derivatives and one Hessian-vector product of a non-quadratic loss, w.r.t. (x, w, ew)."""
    rowptr, col, x0, w0, ew0 = inputs(n=30, e=120, d=7, ops=ops, grad=False, seed=seed)
    g = torch.Generator().manual_seed(seed + 5)
    c = torch.randn(30, 7, generator=g, dtype=DT)
    vx, vw = torch.randn(30, 7, generator=g, dtype=DT), torch.randn(len(ops), generator=g, dtype=DT)
    vew = torch.randn(col.numel(), generator=g, dtype=DT)
    x, w, ew = (t.clone().requires_grad_(True) for t in (x0, w0, ew0))
    h = torch.tanh(x) * (1 + w.sum())  # x and w enter twice: mixed second derivatives everywhere
    y = (agg(rowptr, col, h, ops, ew) * w[:, None, None]).sum(0) if stack else agg(rowptr, col, h, w, ops, ew)
    loss = (y * y * c).sum() + 0.01 * (y.sum(1) ** 3).sum()
    gx, gw, gew = torch.autograd.grad(loss, (x, w, ew), create_graph=True)
    hv = torch.autograd.grad((gx * vx).sum() + (gw * vw).sum() + (gew * vew).sum(), (x, w, ew))
    return [gx.detach(), gw.detach(), gew.detach(), *hv]


@pytest.mark.parametrize("ops", OPS, ids=lambda o: "+".join(o))
@pytest.mark.parametrize("stack", [False, True], ids=["mixed", "stack"])
def test_double_backward_equals_the_reference_in_float64(fused, ops, stack):
    got = _second_order(aggregate_stack if stack else mixed_aggregate, ops, stack)
    want = _second_order(reference.aggregate_stack if stack else reference.mixed_aggregate, ops, stack)
    for name, a, b in zip(("gx", "gw", "gew", "hx", "hw", "hew"), got, want):
        assert b.abs().max() > 0, name  # the reference's second derivatives are not trivially zero
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6, msg=name)


def test_second_derivative_in_the_weights_is_not_zero(fused):
    # issue 8: d2L/dw2 through the fused op measured [0, 0]; the mixing weights enter through tanh here
    rowptr, col, x, _, ew = inputs(n=20, e=80, d=4, ops=("sum", "max"), grad=False)
    w = torch.tensor([0.3, 0.7], dtype=DT, requires_grad=True)

    def loss(agg, w):
        return (torch.tanh(agg(rowptr, col, x, w, ("sum", "max"), ew)) ** 2).sum()

    got = torch.autograd.functional.hessian(lambda w: loss(mixed_aggregate, w), w)
    want = torch.autograd.functional.hessian(lambda w: loss(reference.mixed_aggregate, w), w)
    assert want.abs().min() > 1e-3
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("ops", [LINEAR, ALL], ids=["linear", "all"])
def test_gradgradcheck(fused, ops):
    # with edge weights all messages differ, so the max/min winners do not move under the check's steps
    rowptr, col, x, w, ew = inputs(n=12, e=40, d=3, ops=ops)
    assert torch.autograd.gradgradcheck(lambda a, b, c: mixed_aggregate(rowptr, col, a, b, ops, c), (x, w, ew))
    assert torch.autograd.gradgradcheck(lambda a, c: aggregate_stack(rowptr, col, a, ops, c), (x, ew))


# --------------------------------------------------------------------------------------- aggregate_stack

@pytest.mark.parametrize("graph", [dict(n=40, e=160, powerlaw=False), dict(n=60, e=600, powerlaw=True),
                                   dict(n=1, e=0, powerlaw=False)], ids=["uniform", "powerlaw", "single-node"])
@pytest.mark.parametrize("d", [1, 7, 64, 70])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("ew", [False, True])
def test_stack_forward_matches_reference(fused, graph, d, dtype, ew):
    rowptr, col = make_graph(graph["n"], graph["e"], powerlaw=graph["powerlaw"], empty_rows=min(3, graph["n"] - 1))
    x = torch.randn(graph["n"], d, dtype=dtype)
    edge_weight = torch.rand(col.numel(), dtype=dtype) + 0.5 if ew else None
    ops = ALL + ("sum", "max")  # repeats allowed
    out = aggregate_stack(rowptr, col, x, ops, edge_weight)
    assert out.shape == (len(ops), graph["n"], d) and out.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out, reference.aggregate_stack(rowptr, col, x, ops, edge_weight), **tol)
    w = torch.rand(len(ops), dtype=dtype)  # the mixture is the weighted sum of the stack
    torch.testing.assert_close((w[:, None, None] * out).sum(0), mixed_aggregate(rowptr, col, x, w, ops, edge_weight),
                               **tol)


@pytest.mark.parametrize("ops", [ALL, ("max",), ("min", "gcn"), ("mean", "mean")], ids=lambda o: "+".join(o))
@pytest.mark.parametrize("need", ["x", "edge_weight", "both"])
def test_stack_gradients_match_reference(fused, ops, need):
    rowptr, col, x, _, ew = inputs(n=50, e=300, d=9, ops=ops, powerlaw=True)
    x.requires_grad_(need != "edge_weight")
    ew.requires_grad_(need != "x")
    leaves = [t for t in (x, ew) if t.requires_grad]
    out = aggregate_stack(rowptr, col, x, ops, ew)
    ref = reference.aggregate_stack(rowptr, col, x, ops, ew)
    g = torch.randn_like(out)
    for a, b in zip(torch.autograd.grad(out, leaves, g), torch.autograd.grad(ref, leaves, g)):
        torch.testing.assert_close(a, b)


def test_stack_no_grad_saves_nothing_and_validates(fused):
    rowptr, col, x, _, ew = inputs(grad=False)
    with torch.no_grad():
        out = aggregate_stack(rowptr, col, x, ALL, ew)
    assert not out.requires_grad
    _, arg = torch.ops.darts_gnn.aggregate_stack(rowptr, col, x, [3, 4], ew, False)
    assert arg.shape[0] == 0
    with pytest.raises(ValueError, match="empty"):
        aggregate_stack(rowptr, col, x, (), ew)
    with pytest.raises(ValueError, match=r"edge_weight must be 1-D \[E\]"):
        aggregate_stack(rowptr, col, x, ALL, ew[:-1])
    with pytest.raises(ValueError, match="unknown aggregator"):
        aggregate_stack(rowptr, col, x, ("sum", "median"))


def test_stack_empty_shapes_and_determinism(fused):
    for n, d in [(0, 4), (5, 0), (3, 4)]:
        x = torch.randn(n, d, requires_grad=True)
        out = aggregate_stack(torch.zeros(n + 1, dtype=torch.long), torch.zeros(0, dtype=torch.long), x, ALL)
        assert out.shape == (5, n, d) and (out == 0).all()
        out.sum().backward()
        assert torch.equal(x.grad, torch.zeros(n, d))
    rowptr, col, x, _, ew = inputs(n=200, e=2000, d=40, dtype=torch.float32, powerlaw=True)
    runs = []
    for threads in (torch.get_num_threads(), 1):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            leaves = [t.detach().requires_grad_(True) for t in (x, ew)]
            out = aggregate_stack(rowptr, col, leaves[0], ALL, leaves[1])
            runs.append((out, *torch.autograd.grad(out, leaves, torch.linspace(-1, 1, out.numel()).view_as(out))))
        finally:
            torch.set_num_threads(old)
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_opcheck_stack_and_backward_autograd(fused):
    rowptr, col, x, w, ew = inputs(n=12, e=40, d=5, grad=True)
    for args in [(rowptr, col, x, [0, 1, 2, 3, 4], ew, True), (rowptr, col, x, [3, 2], None, True),
                 (rowptr, col, x.detach(), [1], None, False)]:
        torch.library.opcheck(torch.ops.darts_gnn.aggregate_stack.default, args,
                              test_utils=("test_schema", "test_autograd_registration", "test_faketensor",
                                          "test_aot_dispatch_dynamic"))
    ops = [0, 1, 2, 3, 4]
    _, arg = torch.ops.darts_gnn.mixed_aggregate(rowptr, col, x.detach(), w.detach(), ops, ew.detach(), True)
    t = torch.ops.darts_gnn.csr_transpose(rowptr, col)
    grad = torch.randn(12, 5, dtype=DT, requires_grad=True)
    torch.library.opcheck(torch.ops.darts_gnn.mixed_aggregate_backward.default,
                          (grad, rowptr, col, x, w, ops, ew, arg, *t, [True, True, True]),
                          test_utils=("test_schema", "test_autograd_registration", "test_faketensor"))


def test_stack_under_torch_compile(fused):
    rowptr, col = make_graph(30, 120, seed=7)
    emb = torch.nn.Parameter(torch.randn(30, 8))
    alpha = torch.nn.Parameter(torch.zeros(5))

    def f():
        s = aggregate_stack(rowptr, col, emb, ALL)
        s = s / (s.norm(dim=(1, 2), keepdim=True) + 1)  # a normalised mixture
        return ((torch.softmax(alpha, 0)[:, None, None] * s).sum(0) * emb).sum()

    eager = f()
    want = torch.autograd.grad(eager, (emb, alpha))
    got = torch.compile(f, backend="aot_eager", fullgraph=True)()
    torch.testing.assert_close(got, eager)
    for a, b in zip(torch.autograd.grad(got, (emb, alpha)), want):
        torch.testing.assert_close(a, b)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [7, 64, 200])
def test_cuda_stack_and_double_backward(dtype, d):
    rowptr, col = make_graph(300, 3000, seed=11, powerlaw=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, d, generator=gen, dtype=dtype)
    ew = torch.rand(col.numel(), generator=gen, dtype=dtype) + 0.5
    g = torch.randn(5, 300, d, generator=gen, dtype=dtype)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    ref_leaves = [t.clone().requires_grad_(True) for t in (x, ew)]
    ref = reference.aggregate_stack(rowptr, col, ref_leaves[0], ALL, ref_leaves[1])
    dev = [t.cuda().requires_grad_(True) for t in (x, ew)]
    out = aggregate_stack(rowptr.cuda(), col.cuda(), dev[0], ALL, dev[1])
    torch.testing.assert_close(out.cpu(), ref.detach(), rtol=tol, atol=tol)
    for a, b in zip(torch.autograd.grad(out, dev, g.cuda()), torch.autograd.grad(ref, ref_leaves, g)):
        torch.testing.assert_close(a.cpu(), b, rtol=10 * tol, atol=10 * tol)
    if dtype == torch.float64:
        got = _second_order(_on_cuda, ALL, False)  # leaves on CPU, the op on the GPU
        want = _second_order(reference.mixed_aggregate, ALL, False)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


def _on_cuda(rowptr, col, h, w, ops, ew):
    return mixed_aggregate(rowptr.cuda(), col.cuda(), h.cuda(), w.cuda(), ops, ew.cuda()).cpu()


# ------------------------------------------------------------------------------ shared tables and caches

def test_aggregator_table_is_the_one_the_kernels_include():
    from pathlib import Path

    from darts_gnn.ops import AGGREGATORS, _checks

    assert _checks._read_table() == AGGREGATORS == ALL
    header = (Path(__file__).resolve().parents[1] / "darts_gnn" / "ops" / "csrc" / "mixed_aggregate.h").read_text()
    assert '#include "../aggregators.def"' in header  # the enum is built from the same file


def test_damaged_aggregator_table_is_reported(tmp_path):
    from darts_gnn.ops import _checks

    bad = tmp_path / "aggregators.def"
    bad.write_text("// nothing here\n")
    with pytest.raises(RuntimeError, match="aggregators.def: no DARTS_GNN_AGGREGATOR"):
        _checks._read_table(bad)


def test_graph_caches_dinv_and_shares_its_transpose_with_the_op(fused):
    import numpy as np

    from darts_gnn.data import Graph
    from darts_gnn.ops import csr, inv_sqrt_degree

    gen = np.random.default_rng(0)
    pairs = np.stack([gen.integers(0, 20, 120), gen.integers(0, 30, 120)], 1)
    g = Graph.from_interactions(20, 30, pairs)
    torch.testing.assert_close(g.dinv, inv_sqrt_degree(g.rowptr))
    torch.testing.assert_close(g.gcn_weight, reference.gcn_norm(g.rowptr, g.col).float())
    t = g.transpose()
    assert g.transpose() is t and csr.csr_transpose(g.rowptr, g.col) is t  # one cache, no copy
    perm = torch.argsort(g.col, stable=True)
    assert torch.equal(t[2], perm) and torch.equal(t[1], g.row[perm])
    assert torch.equal(t[0][1:], torch.bincount(g.col, minlength=50).cumsum(0))
    x = torch.randn(50, 4, requires_grad=True)
    mixed_aggregate(g.rowptr, g.col, x, torch.ones(1), ("gcn",)).sum().backward()
    torch.testing.assert_close(x.grad, torch.zeros(50).index_add(0, g.col, g.gcn_weight)[:, None].expand(50, 4))


def test_transpose_fallback_without_the_extension(monkeypatch):
    from darts_gnn.ops import _extension, csr

    rowptr, col = make_graph(40, 200, seed=9, powerlaw=True)
    monkeypatch.setattr(_extension, "is_loaded", lambda: False)
    t_rowptr, t_row, t_eid = csr._transpose(rowptr, col)
    perm = torch.argsort(col, stable=True)
    row = torch.repeat_interleave(torch.arange(40), rowptr.diff())
    assert torch.equal(t_eid, perm) and torch.equal(t_row, row[perm])
    assert torch.equal(t_rowptr, torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(col, minlength=40).cumsum(0)]))


def test_kernels_doc_python_examples_run():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "kernels.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/kernels.md", "exec"), {})


def test_double_backward_on_degenerate_shapes(fused):
    for n, d, e in [(0, 3, 0), (4, 0, 5), (4, 3, 0)]:
        rowptr = torch.tensor([0] * n + [e]) if n else torch.zeros(1, dtype=torch.long)
        col = torch.zeros(e, dtype=torch.long)
        x = torch.randn(n, d, dtype=DT, requires_grad=True)
        w = torch.rand(5, dtype=DT, requires_grad=True)
        y = mixed_aggregate(rowptr, col, x, w, ALL)
        gx, gw = torch.autograd.grad((y * y).sum() + y.sum(), (x, w), create_graph=True)
        hx, hw = torch.autograd.grad(gx.sum() + gw.sum(), (x, w), allow_unused=True)
        assert hw is None or torch.equal(hw, torch.zeros(5, dtype=DT))
        assert hx is None or hx.shape == (n, d)


def test_saved_routes_are_reused_across_hessian_vector_products(fused):
    from darts_gnn.ops import _fused

    rowptr, col, x, w, ew = inputs(n=20, e=80, d=5, ops=("max", "min"))
    y = mixed_aggregate(rowptr, col, torch.tanh(x), w, ("max", "min"), ew)
    (gx,) = torch.autograd.grad((y ** 2).sum(), x, create_graph=True)
    _fused._ROUTES.clear()
    first = torch.autograd.grad(gx.sum(), x, retain_graph=True)[0]
    cached = [entry[-1] for entry in _fused._ROUTES.values()]
    assert len(cached) == 2 and all(c.dtype == torch.int32 and c.numel() == 20 * 5 for c in cached)
    second = torch.autograd.grad(gx.sum(), x)[0]
    again = [entry[-1] for entry in _fused._ROUTES.values()]
    assert len(again) == 2 and all(a is b for a, b in zip(again, cached))  # no recomputation
    assert torch.equal(first, second)
