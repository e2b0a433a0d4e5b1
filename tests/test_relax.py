"""Relaxations: softmax (DARTS), Gumbel hard straight-through (GDAS), sigmoid + zero-one (FairDARTS)."""
import math

import pytest
import torch

from darts_gnn.search.relax import (GumbelRelaxation, SigmoidRelaxation, SoftmaxRelaxation,
                                    build_relaxation)


def test_build_by_name_and_errors():
    assert isinstance(build_relaxation(), SoftmaxRelaxation)
    assert isinstance(build_relaxation("gumbel", seed=1), GumbelRelaxation)
    assert isinstance(build_relaxation("Sigmoid"), SigmoidRelaxation)
    with pytest.raises(ValueError, match="softmax, gumbel, sigmoid"):
        build_relaxation("sparsemax")
    with pytest.raises(ValueError, match="known options"):
        build_relaxation("softmax", temperature=2.0)
    # options of other relaxations are ignored (config fields pass straight through)
    r = build_relaxation("softmax", tau_max=5.0, zero_one_weight=1.0)
    assert isinstance(r, SoftmaxRelaxation)
    assert build_relaxation("sigmoid", zero_one_weight=3.0, tau_min=0.5).zero_one_weight == 3.0
    with pytest.raises(ValueError, match="tau_max >= tau_min"):
        GumbelRelaxation(tau_max=0.1, tau_min=1.0)
    with pytest.raises(ValueError, match="schedule"):
        GumbelRelaxation(tau_schedule="cosine")


def test_softmax_weights_and_zero_regularizer():
    alpha = torch.randn(3, 5, requires_grad=True)
    r = build_relaxation("softmax")
    w = r.weights(alpha)
    torch.testing.assert_close(w, torch.softmax(alpha, -1))
    torch.testing.assert_close(r.eval_weights(alpha), w)
    reg = r.regularizer(w)
    assert reg.shape == () and reg.item() == 0.0


def test_gumbel_hard_one_hot_with_straight_through_gradient():
    torch.manual_seed(0)
    alpha = torch.randn(4, 6, requires_grad=True)
    r = build_relaxation("gumbel", seed=3)
    w = r.weights(alpha)
    # forward: exact one-hot rows
    assert torch.equal(w.detach().sum(-1), torch.ones(4))
    assert set(w.detach().unique().tolist()) <= {0.0, 1.0}
    # backward: the soft sample's gradient reaches every candidate
    (w * torch.arange(6.0)).sum().backward()
    assert alpha.grad is not None and (alpha.grad != 0).all()
    assert r.regularizer(w).item() == 0.0
    # eval weights are deterministic (softmax of alpha)
    torch.testing.assert_close(r.eval_weights(alpha), torch.softmax(alpha, -1))


def test_gumbel_is_seeded_and_independent_of_global_rng():
    alpha = torch.zeros(50, 4)
    a = build_relaxation("gumbel", seed=7)
    b = build_relaxation("gumbel", seed=7)
    torch.manual_seed(1)
    wa = [a.weights(alpha) for _ in range(3)]
    torch.manual_seed(2)
    torch.rand(10)
    wb = [b.weights(alpha) for _ in range(3)]
    for x, y in zip(wa, wb):
        assert torch.equal(x, y)
    assert not torch.equal(wa[0], wa[1])  # fresh noise each call
    c = build_relaxation("gumbel", seed=8)
    assert not torch.equal(c.weights(alpha), wa[0])
    # seed=None uses the global RNG, reproducible via torch.manual_seed
    g = build_relaxation("gumbel", seed=None)
    torch.manual_seed(5)
    x = g.weights(alpha)
    torch.manual_seed(5)
    assert torch.equal(g.weights(alpha), x)


def test_gumbel_samples_follow_softmax_of_alpha():
    # argmax(alpha + Gumbel) ~ Categorical(softmax(alpha)) (the Gumbel-max trick)
    alpha = torch.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    r = build_relaxation("gumbel", seed=0)
    freq = r.weights(alpha).detach().mean(0)
    torch.testing.assert_close(freq, torch.softmax(alpha[0], -1), atol=0.015, rtol=0)


def test_gumbel_temperature_schedules():
    lin = GumbelRelaxation(tau_max=10.0, tau_min=0.1, tau_schedule="linear")
    assert lin.tau == 10.0
    lin.set_progress(0, 11)
    assert lin.tau == pytest.approx(10.0)
    lin.set_progress(5, 11)
    assert lin.tau == pytest.approx(5.05)
    lin.set_progress(10, 11)
    assert lin.tau == pytest.approx(0.1)
    ex = GumbelRelaxation(tau_max=10.0, tau_min=0.1, tau_schedule="exp")
    ex.set_progress(5, 11)
    assert ex.tau == pytest.approx(1.0)
    ex.set_progress(10, 11)
    assert ex.tau == pytest.approx(0.1)
    taus = []
    for e in range(20):
        ex.set_progress(e, 20)
        taus.append(ex.tau)
    assert all(a > b for a, b in zip(taus, taus[1:]))
    one = GumbelRelaxation(tau_max=2.0, tau_min=1.0)
    one.set_progress(0, 1)
    assert one.tau == 2.0


def test_gumbel_soft_mode_and_low_temperature():
    alpha = torch.randn(2, 3, requires_grad=True)
    r = GumbelRelaxation(hard=False, seed=0)
    w = r.weights(alpha)
    assert (w > 0).all() and torch.allclose(w.sum(-1), torch.ones(2))
    r.tau = 1e-3  # very low temperature must not produce NaN
    w = r.weights(alpha * 100)
    assert torch.isfinite(w).all()


def test_gumbel_state_dict_round_trip_resumes_noise():
    alpha = torch.zeros(10, 5)
    r = GumbelRelaxation(seed=11)
    r.set_progress(3, 10)
    r.weights(alpha)
    state = r.state_dict()
    expected = [r.weights(alpha) for _ in range(2)]
    s = GumbelRelaxation(seed=99)
    s.load_state_dict(state)
    assert s.tau == r.tau or s.tau == pytest.approx(state["tau"])
    for e in expected:
        assert torch.equal(s.weights(alpha), e)
    with pytest.raises(ValueError, match="relaxation"):
        SoftmaxRelaxation().load_state_dict(state)
    # state is loadable with weights_only=True
    import io
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert torch.equal(loaded["generator"], state["generator"])


def test_sigmoid_weights_and_zero_one_loss():
    alpha = torch.tensor([[0.0, 2.0, -2.0]], requires_grad=True)
    r = build_relaxation("sigmoid", zero_one_weight=10.0)
    w = r.weights(alpha)
    torch.testing.assert_close(w, torch.sigmoid(alpha))
    torch.testing.assert_close(r.eval_weights(alpha), w)
    reg = r.regularizer(w)
    expected = -10.0 * ((torch.sigmoid(alpha) - 0.5) ** 2).mean()
    torch.testing.assert_close(reg, expected)
    reg.backward()
    # the loss pushes weights away from 0.5: alpha > 0 goes up, alpha < 0 goes down (descent = -grad)
    g = alpha.grad[0]
    assert g[0].item() == 0.0 and g[1].item() < 0 and g[2].item() > 0
    # the zero-one loss is minimal (= -weight/4) at 0/1 weights
    assert r.regularizer(torch.tensor([0.0, 1.0])).item() == pytest.approx(-10.0 / 4)
    assert math.isclose(build_relaxation("sigmoid", zero_one_weight=0.0).regularizer(w).item(), 0.0)
