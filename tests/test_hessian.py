"""Dominant Hessian eigenvalue by power iteration, and the RobustDARTS-style early-stop monitor.

Exactness tests pass ``method="autograd"``: with the default ``"auto"`` the products switch to finite
differences whenever the fused aggregation kernel is loaded in the test session (see
``double_backward_ok``), which these losses do not even use."""
import math

import pytest
import torch

from darts_gnn.search.hessian import EigenvalueMonitor, dominant_eigenvalue

DT = torch.float64


def _sym_with_eigs(eigs, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=DT))
    return q @ torch.diag(torch.tensor(eigs, dtype=DT)) @ q.T


def test_quadratic_with_known_spectrum_split_over_two_tensors():
    eigs = [5.0, 2.0, 1.5, 0.5, -0.3, 0.1]
    A = _sym_with_eigs(eigs)
    a1 = torch.randn(2, 2, dtype=DT, requires_grad=True)
    a2 = torch.randn(2, dtype=DT, requires_grad=True)

    def loss():
        x = torch.cat([a1.reshape(-1), a2])
        return 0.5 * x @ A @ x + x.sum()

    lam = dominant_eigenvalue(loss, [a1, a2], method="autograd", iters=200, tol=1e-10)
    assert lam == pytest.approx(5.0, rel=1e-6)
    assert a1.grad is None and a2.grad is None
    # default settings land close (ratio 2/5 per step)
    assert dominant_eigenvalue(loss, [a1, a2], method="autograd") == pytest.approx(5.0, rel=1e-3)


def test_negative_dominant_eigenvalue_largest_and_magnitude_in_float32():
    A = _sym_with_eigs([-4.0, 1.0, 0.5], seed=1).float()
    x = torch.randn(3, requires_grad=True)
    lam = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], method="autograd", iters=100, tol=1e-7, which="magnitude")
    assert lam == pytest.approx(-4.0, rel=1e-4)
    # default: the largest (algebraic) eigenvalue, via a shifted second power iteration
    lam = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], method="autograd", iters=200, tol=1e-9)
    assert lam == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="which"):
        dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], method="autograd", which="smallest")


def test_matches_full_hessian_on_a_softmax_mixing_loss():
    # a small "supernet-like" loss: softmax(alpha) mixes candidate outputs, MSE to a target
    g = torch.Generator().manual_seed(2)
    outs = torch.randn(3, 4, 8, generator=g, dtype=DT)  # 3 choices x 4 candidates x 8 outputs
    target = torch.randn(8, generator=g, dtype=DT)
    alpha = torch.randn(3, 4, generator=g, dtype=DT, requires_grad=True)

    def f(a):
        w = torch.softmax(a, -1)
        y = (w[..., None] * outs).sum(1).prod(0)
        return ((y - target) ** 2).mean()

    H = torch.autograd.functional.hessian(f, alpha.detach()).reshape(12, 12)
    ev = torch.linalg.eigvalsh(H)
    lam = dominant_eigenvalue(lambda: f(alpha), [alpha], method="autograd", iters=500, tol=1e-12, which="magnitude")
    assert lam == pytest.approx(ev[ev.abs().argmax()].item(), rel=1e-5)
    lam = dominant_eigenvalue(lambda: f(alpha), [alpha], method="autograd", iters=2000, tol=1e-13)
    assert lam == pytest.approx(ev[-1].item(), rel=1e-4)


def test_degenerate_cases():
    x = torch.randn(4, requires_grad=True)
    assert dominant_eigenvalue(lambda: (3 * x).sum(), [x], method="autograd") == 0.0  # linear: zero Hessian
    y = torch.randn(2, requires_grad=True)
    lam = dominant_eigenvalue(lambda: (x ** 2).sum() + y.sum(), [x, y], method="autograd", iters=50)
    assert lam == pytest.approx(2.0)
    assert math.isnan(dominant_eigenvalue(lambda: (x ** 2).sum() * float("nan"), [x], method="autograd"))
    with pytest.raises(ValueError, match="iters"):
        dominant_eigenvalue(lambda: (x ** 2).sum(), [x], method="autograd", iters=0)


def test_deterministic_and_leaves_global_rng_alone():
    A = _sym_with_eigs([3.0, 2.9, 1.0])
    x = torch.randn(3, dtype=DT, requires_grad=True)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], method="autograd", iters=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], method="autograd", iters=5)
    assert a == b


def test_monitor_stops_on_rise_over_early_value():
    m = EigenvalueMonitor(factor=1.5, window=2)
    seq = [1.0, 1.2, 1.1, 1.3, 1.4, 1.8, 2.2]
    decisions = [m.update(e, v) for e, v in enumerate(seq)]
    # early = 1.1; current means: (1.1+1.3)/2=1.2, 1.35, 1.6 < 1.65, 2.0 > 1.65 -> stop at epoch 6
    assert decisions == [False] * 6 + [True]
    assert m.stopped and m.stop_epoch == 6 and m.rollback_epoch == 4
    assert m.early == pytest.approx(1.1) and m.current == pytest.approx(2.0)
    assert m.update(7, 0.1) is True  # stays stopped


def test_monitor_needs_two_windows_ignores_nan_and_nonpositive_early():
    m = EigenvalueMonitor(factor=1.2, window=3)
    assert not any(m.update(e, v) for e, v in enumerate([1.0, 1.0, 1.0, 5.0, 5.0]))
    assert m.update(5, 5.0) is True
    n = EigenvalueMonitor(factor=1.2, window=1)
    assert n.update(0, float("nan")) is False
    assert n.update(1, 1.0) is False
    assert n.update(2, float("inf")) is False
    assert n.update(3, 1.3) is True and n.rollback_epoch == 1
    z = EigenvalueMonitor(factor=1.2, window=1)
    assert not any(z.update(e, v) for e, v in enumerate([-1.0, 5.0, 50.0]))
    off = EigenvalueMonitor(factor=0.0, window=1)
    assert not any(off.update(e, v) for e, v in enumerate([1.0, 100.0])) and len(off.values) == 2
    with pytest.raises(ValueError, match="window"):
        EigenvalueMonitor(window=0)


def test_monitor_state_round_trip():
    import io
    m = EigenvalueMonitor(factor=1.5, window=1)
    for e, v in enumerate([1.0, 1.1, 2.0]):
        m.update(e * 2, v)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    n = EigenvalueMonitor(factor=1.5, window=1)
    n.load_state_dict(torch.load(buf, weights_only=True))
    assert n.values == m.values and n.epochs == m.epochs
    assert n.stopped and n.stop_epoch == 4 and n.rollback_epoch == 2


class _MulNoDoubleBackward(torch.autograd.Function):
    """w * x whose backward is not differentiable (like the fused mixed_aggregate kernel)."""

    @staticmethod
    def forward(ctx, w, x):
        ctx.save_for_backward(w, x)
        return w * x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        w, x = ctx.saved_tensors
        return g * x, g * w


def _mix_loss(a, mul):
    w, x = torch.softmax(a, 0), torch.tanh(2 * a)
    y = mul(w, x)
    return (y ** 2).sum() + y.sum()


def test_finite_difference_method_and_auto_for_ops_without_double_backward(monkeypatch):
    from darts_gnn.search import hessian
    a = torch.tensor([0.3, -1.2, 0.8, 0.1], dtype=DT, requires_grad=True)
    H = torch.autograd.functional.hessian(lambda t: _mix_loss(t, torch.mul), a.detach())
    exact = torch.linalg.eigvalsh(H)[-1].item()
    before = a.detach().clone()
    kw = dict(iters=300, tol=1e-12)
    fd = dominant_eigenvalue(lambda: _mix_loss(a, torch.mul), [a], method="fd", **kw)
    assert fd == pytest.approx(exact, rel=1e-3)  # O(h^2) with h = 1e-2 * |a|
    assert torch.equal(a.detach(), before)
    # autograd through an op without a double backward is silently wrong ...
    bad = dominant_eigenvalue(lambda: _mix_loss(a, _MulNoDoubleBackward.apply), [a], method="autograd", **kw)
    assert abs(bad - exact) > 0.05 * abs(exact)
    # ... so "auto" uses finite differences when double_backward_ok() says so
    monkeypatch.setattr(hessian, "double_backward_ok", lambda: False)
    auto = dominant_eigenvalue(lambda: _mix_loss(a, _MulNoDoubleBackward.apply), [a], **kw)
    assert auto == pytest.approx(exact, rel=1e-3)
    monkeypatch.setattr(hessian, "double_backward_ok", lambda: True)
    assert dominant_eigenvalue(lambda: _mix_loss(a, torch.mul), [a], **kw) == pytest.approx(exact, rel=1e-9)
    assert torch.equal(a.detach(), before)
    with pytest.raises(ValueError, match="method"):
        dominant_eigenvalue(lambda: _mix_loss(a, torch.mul), [a], method="exact")


class _OnceDifferentiableAggregate(torch.autograd.Function):
    """The reference aggregation with correct first derivatives but a backward that is not itself
    differentiable (the pattern of a fused kernel without a double-backward formula)."""

    @staticmethod
    def forward(ctx, rowptr, col, x, w, names):
        from darts_gnn.ops import reference
        ctx.save_for_backward(rowptr, col, x, w)
        ctx.names = names
        return reference.mixed_aggregate(rowptr, col, x, w, names)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        from darts_gnn.ops import reference
        rowptr, col, x, w = ctx.saved_tensors
        with torch.enable_grad():
            x, w = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
            gx, gw = torch.autograd.grad(reference.mixed_aggregate(rowptr, col, x, w, ctx.names), (x, w), g)
        return None, None, gx, gw, None


def test_double_backward_probe_of_the_aggregation_op(monkeypatch):
    from darts_gnn import ops
    from darts_gnn.ops import _extension
    from darts_gnn.search import hessian
    bad = _OnceDifferentiableAggregate.apply
    assert hessian.twice_differentiable(ops.reference.mixed_aggregate, ops.reference.mixed_aggregate)
    assert not hessian.twice_differentiable(bad, ops.reference.mixed_aggregate)
    monkeypatch.setattr(hessian, "_DOUBLE_BACKWARD_OK", None)
    monkeypatch.setattr(_extension, "is_loaded", lambda: False)
    assert hessian.double_backward_ok()                       # nothing fused: trust autograd
    monkeypatch.setattr(_extension, "is_loaded", lambda: True)
    monkeypatch.setattr(ops, "mixed_aggregate", bad)
    assert not hessian.double_backward_ok()                   # fused and not twice differentiable
    monkeypatch.setattr(ops, "mixed_aggregate", ops.reference.mixed_aggregate)
    assert not hessian.double_backward_ok()                   # probed once per process
    monkeypatch.setattr(hessian, "_DOUBLE_BACKWARD_OK", None)
    assert hessian.double_backward_ok()


def test_finite_differences_replay_random_draws_in_the_loss():
    # the loss draws a random mask per call; without replay the central differences would be noise
    A = _sym_with_eigs([3.0, 1.0, 0.5, 0.2])
    x = torch.randn(4, dtype=DT, requires_grad=True)
    gen = torch.Generator().manual_seed(0)

    def loss():
        m = torch.rand(4, generator=gen, dtype=DT) + 0.5   # one draw per call from `gen`
        s = torch.rand(1, dtype=DT) + 0.5                  # and one from the global RNG
        y = x * m
        return 0.5 * s[0] * y @ A @ y

    state_g, state = gen.get_state(), torch.get_rng_state()
    m = torch.rand(4, generator=gen, dtype=DT) + 0.5
    s = torch.rand(1, dtype=DT) + 0.5
    gen.set_state(state_g)
    torch.set_rng_state(state)
    ev = torch.linalg.eigvalsh(s[0] * torch.diag(m) @ A @ torch.diag(m))
    lam = dominant_eigenvalue(loss, [x], iters=200, tol=1e-12, method="fd", generators=[gen])
    assert lam == pytest.approx(ev[-1].item(), rel=1e-8)  # quadratic: central differences are exact
    assert torch.equal(gen.get_state(), state_g) and torch.equal(torch.get_rng_state(), state)


def test_guard_hook_stops_and_rolls_alpha_back():
    from darts_gnn.search.hessian import EigenvalueGuard

    class FakeNet:
        def __init__(self):
            self.alpha = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]

        def named_arch_parameters(self):
            return list(zip(["layer0.aggregator", "combine"], self.alpha))

    class FakeSearcher:
        def __init__(self):
            self.model = FakeNet()
            self.trajectory = []

    s = FakeSearcher()
    guard = EigenvalueGuard(EigenvalueMonitor(factor=2.0, window=1))
    values = {1: 1.0, 3: 1.5, 5: 4.0}
    stops = []
    for epoch in range(6):
        with torch.no_grad():
            s.model.alpha[0].fill_(epoch)
            s.model.alpha[1].fill_(-epoch)
        s.trajectory.append({"epoch": epoch, "alpha": {k: p.tolist() for k, p in s.model.named_arch_parameters()}})
        record = {"epoch": epoch}
        if epoch in values:
            record["hessian/eigenvalue"] = values[epoch]
        stops.append(guard(s, epoch, record))
    assert stops == [False] * 5 + [True]
    assert record["hessian/stopped"] and record["hessian/rollback_epoch"] == 3 and record["hessian/ratio"] == 4.0
    assert s.model.alpha[0].tolist() == [3.0] * 3 and s.model.alpha[1].tolist() == [-3.0] * 2
    state = guard.state_dict()
    other = EigenvalueGuard(EigenvalueMonitor(factor=2.0, window=1))
    other.load_state_dict(state)
    assert other.monitor.stopped and other(s, 6, {}) is True
