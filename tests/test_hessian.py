"""Dominant Hessian eigenvalue by power iteration (exact double backward), and the RobustDARTS-style
early-stop monitor."""
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

    lam = dominant_eigenvalue(loss, [a1, a2], iters=200, tol=1e-10)
    assert lam == pytest.approx(5.0, rel=1e-6)
    assert a1.grad is None and a2.grad is None
    # default settings land close (ratio 2/5 per step)
    assert dominant_eigenvalue(loss, [a1, a2]) == pytest.approx(5.0, rel=1e-3)


def test_negative_dominant_eigenvalue_largest_and_magnitude_in_float32():
    A = _sym_with_eigs([-4.0, 1.0, 0.5], seed=1).float()
    x = torch.randn(3, requires_grad=True)
    lam = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], iters=100, tol=1e-7, which="magnitude")
    assert lam == pytest.approx(-4.0, rel=1e-4)
    # default: the largest (algebraic) eigenvalue, via a shifted second power iteration
    lam = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], iters=200, tol=1e-9)
    assert lam == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="which"):
        dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], which="smallest")


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
    lam = dominant_eigenvalue(lambda: f(alpha), [alpha], iters=500, tol=1e-12, which="magnitude")
    assert lam == pytest.approx(ev[ev.abs().argmax()].item(), rel=1e-5)
    lam = dominant_eigenvalue(lambda: f(alpha), [alpha], iters=2000, tol=1e-13)
    assert lam == pytest.approx(ev[-1].item(), rel=1e-4)


def test_degenerate_cases():
    x = torch.randn(4, requires_grad=True)
    assert dominant_eigenvalue(lambda: (3 * x).sum(), [x]) == 0.0  # linear: zero Hessian
    y = torch.randn(2, requires_grad=True)
    lam = dominant_eigenvalue(lambda: (x ** 2).sum() + y.sum(), [x, y], iters=50)
    assert lam == pytest.approx(2.0)
    assert math.isnan(dominant_eigenvalue(lambda: (x ** 2).sum() * float("nan"), [x]))
    with pytest.raises(ValueError, match="iters"):
        dominant_eigenvalue(lambda: (x ** 2).sum(), [x], iters=0)


def test_deterministic_and_leaves_global_rng_alone():
    A = _sym_with_eigs([3.0, 2.9, 1.0])
    x = torch.randn(3, dtype=DT, requires_grad=True)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], iters=5)
    assert torch.equal(torch.get_rng_state(), state)
    b = dominant_eigenvalue(lambda: 0.5 * x @ A @ x, [x], iters=5)
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


def test_eigenvalue_through_the_fused_aggregation_equals_the_exact_hessian():
    # a two-layer supernet-like loss whose alpha mixes all five aggregators: the power iteration runs
    # through the fused op's double backward and must find the top eigenvalue of the full Hessian
    from darts_gnn import ops
    from test_ops import make_graph

    rowptr, col = make_graph(25, 100, seed=4)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(25, 6, generator=g, dtype=DT)
    ew = torch.rand(col.numel(), generator=g, dtype=DT) + 0.5  # distinct messages: no max/min ties
    target = torch.randn(25, 6, generator=g, dtype=DT)
    names = ("sum", "mean", "gcn", "max", "min")

    def f(alpha, agg):
        h = x
        for layer in range(2):
            h = torch.tanh(agg(rowptr, col, h, torch.softmax(alpha[layer], 0), names, ew))
        return ((h - target) ** 2).mean()

    alpha = torch.randn(2, 5, generator=g, dtype=DT, requires_grad=True)
    H = torch.autograd.functional.hessian(lambda a: f(a, ops.reference.mixed_aggregate), alpha.detach())
    top = torch.linalg.eigvalsh(H.reshape(10, 10))[-1].item()
    lam = dominant_eigenvalue(lambda: f(alpha, ops.mixed_aggregate), [alpha], iters=500, tol=1e-12)
    assert lam == pytest.approx(top, rel=1e-6)


def test_random_draws_in_the_loss_come_from_the_entry_state():
    # the loss draws a random mask per call: the products use the draws of the RNG state at entry
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
    lam = dominant_eigenvalue(loss, [x], iters=200, tol=1e-12, generators=[gen])
    assert lam == pytest.approx(ev[-1].item(), rel=1e-8)
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
