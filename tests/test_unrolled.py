"""Second-order DARTS gradient vs an exact torch.func computation of the unrolled objective."""
import pytest
import torch
from torch.func import grad

from darts_gnn.search.unrolled import unrolled_arch_grads

DT = torch.float64


def _mlp_problem(seed=0):
    """Tiny MLP whose hidden activation is a softmax(alpha) mix of tanh and sigmoid, plus a
    second alpha that mixes two output heads; MSE losses on separate train and valid batches."""
    g = torch.Generator().manual_seed(seed)
    x_tr, x_va = torch.randn(16, 3, generator=g, dtype=DT), torch.randn(12, 3, generator=g, dtype=DT)
    y_tr, y_va = torch.randn(16, 1, generator=g, dtype=DT), torch.randn(12, 1, generator=g, dtype=DT)
    w = {"W1": torch.randn(3, 5, generator=g, dtype=DT), "W2": torch.randn(5, 1, generator=g, dtype=DT),
         "W3": torch.randn(5, 1, generator=g, dtype=DT)}
    a = {"act": torch.randn(2, generator=g, dtype=DT), "head": torch.randn(2, generator=g, dtype=DT)}

    def loss(w, a, x, y):
        pa, ph = torch.softmax(a["act"], 0), torch.softmax(a["head"], 0)
        z = x @ w["W1"]
        h = pa[0] * torch.tanh(z) + pa[1] * torch.sigmoid(z)
        out = ph[0] * (h @ w["W2"]) + ph[1] * (h ** 2 @ w["W3"])
        return ((out - y) ** 2).mean()

    return w, a, (lambda w, a: loss(w, a, x_tr, y_tr)), (lambda w, a: loss(w, a, x_va, y_va))


def _exact(w, a, ltr, lva, lr):
    def objective(a):
        gw = grad(ltr, argnums=0)(w, a)
        w1 = {k: w[k] - lr * gw[k] for k in w}
        return lva(w1, a)
    return grad(objective)(a)


def _first_order_at_virtual_step(w, a, ltr, lva, lr):
    gw = grad(ltr, argnums=0)(w, a)
    w1 = {k: w[k] - lr * gw[k] for k in w}
    return grad(lva, argnums=1)(w1, a)


def _ours(w, a, ltr, lva, lr, eps=0.01):
    wp = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    ap = {k: v.clone().requires_grad_(True) for k, v in a.items()}
    names_w, names_a = list(wp), list(ap)
    before = [p.detach().clone() for p in wp.values()]
    out = unrolled_arch_grads([wp[k] for k in names_w], [ap[k] for k in names_a],
                              lambda: ltr(wp, ap), lambda: lva(wp, ap), lr=lr, eps=eps)
    for b, p in zip(before, wp.values()):
        assert torch.equal(b, p.detach()), "weights not restored exactly"
    assert all(p.grad is None for p in list(wp.values()) + list(ap.values()))
    return dict(zip(names_a, out))


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_exact_unrolled_gradient_on_tiny_mlp(seed):
    w, a, ltr, lva = _mlp_problem(seed)
    lr = 0.5
    exact = _exact(w, a, ltr, lva, lr)
    fo = _first_order_at_virtual_step(w, a, ltr, lva, lr)
    ours = _ours(w, a, ltr, lva, lr)
    for k in a:
        # the second-order correction is material here, so the test can tell the two apart
        assert (exact[k] - fo[k]).norm() > 1e-2 * exact[k].norm()
        # central difference with step 0.01 in w: O(1e-4) relative error from third derivatives
        torch.testing.assert_close(ours[k], exact[k], rtol=1e-3, atol=1e-6)
    # a smaller step tightens the agreement (float64 keeps round-off below the truncation error)
    fine = _ours(w, a, ltr, lva, lr, eps=1e-4)
    for k in a:
        torch.testing.assert_close(fine[k], exact[k], rtol=1e-6, atol=1e-9)
    # and the error is the central difference's O(eps^2): eps / 10 -> error / 100
    mid = _ours(w, a, ltr, lva, lr, eps=1e-3)
    for k in a:
        ratio = (ours[k] - exact[k]).norm() / (mid[k] - exact[k]).norm()
        assert 70 < ratio < 130, ratio


def test_exact_when_train_loss_is_quadratic_in_weights():
    # L_train = 0.5 w^T A(a) w - b^T w with A depending on a: its alpha-gradient is quadratic in w,
    # so the central difference is exact up to round-off
    g = torch.Generator().manual_seed(3)
    M = torch.randn(4, 4, generator=g, dtype=DT)
    A0, A1 = M @ M.T + torch.eye(4, dtype=DT), torch.diag(torch.rand(4, generator=g, dtype=DT))
    b, c = torch.randn(4, generator=g, dtype=DT), torch.randn(4, generator=g, dtype=DT)
    w = {"w": torch.randn(4, generator=g, dtype=DT)}
    a = {"a": torch.randn(2, generator=g, dtype=DT)}

    def ltr(w, a):
        A = A0 + torch.tanh(a["a"][0]) * A1
        return 0.5 * w["w"] @ A @ w["w"] - (b * torch.sin(a["a"][1])) @ w["w"]

    def lva(w, a):
        return ((w["w"] - c) ** 2).sum() + 0.1 * (a["a"] ** 2).sum() * w["w"].sum()

    exact = _exact(w, a, ltr, lva, 0.1)
    ours = _ours(w, a, ltr, lva, 0.1)
    torch.testing.assert_close(ours["a"], exact["a"], rtol=1e-8, atol=1e-10)


def test_zero_lr_gives_first_order_gradient_and_unused_alpha_gets_zeros():
    w, a, ltr, lva = _mlp_problem(0)
    a = dict(a, unused=torch.zeros(3, dtype=DT))
    ours = _ours(w, a, ltr, lva, lr=0.0)
    fo = grad(lva, argnums=1)(w, a)
    for k in ("act", "head"):
        torch.testing.assert_close(ours[k], fo[k])
    assert torch.equal(ours["unused"], torch.zeros(3, dtype=DT))


def test_random_draws_inside_closures_are_replayed():
    # the closures draw a random mask each call; replaying the RNG makes the four evaluations see the
    # same mask, so the result equals the computation with that mask fixed
    w, a, ltr, lva = _mlp_problem(0)
    gen = torch.Generator().manual_seed(5)

    def masked(f, use_gen):
        def h(w, a):
            m = (torch.rand(5, generator=gen if use_gen else None, dtype=DT) > 0.3).to(DT)
            return f({**w, "W2": w["W2"] * m[:, None]}, a)
        return h

    torch.manual_seed(0)
    wp = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    ap = {k: v.clone().requires_grad_(True) for k, v in a.items()}
    state0 = torch.get_rng_state()
    ours = unrolled_arch_grads(list(wp.values()), list(ap.values()),
                               lambda: masked(ltr, False)(wp, ap), lambda: masked(lva, False)(wp, ap),
                               lr=0.5)
    torch.set_rng_state(state0)
    m = (torch.rand(5, dtype=DT) > 0.3).to(DT)
    fix = lambda f: (lambda w, a: f({**w, "W2": w["W2"] * m[:, None]}, a))  # noqa: E731
    exact = _exact(w, a, fix(ltr), fix(lva), 0.5)
    for o, k in zip(ours, a):
        torch.testing.assert_close(o, exact[k], rtol=1e-3, atol=1e-6)
    # the same with an explicit generator
    state_g = gen.get_state()
    ours_g = unrolled_arch_grads(list(wp.values()), list(ap.values()),
                                 lambda: masked(ltr, True)(wp, ap), lambda: masked(lva, True)(wp, ap),
                                 lr=0.5, generators=[gen])
    gen.set_state(state_g)
    m = (torch.rand(5, generator=gen, dtype=DT) > 0.3).to(DT)
    exact = _exact(w, a, fix(ltr), fix(lva), 0.5)
    for o, k in zip(ours_g, a):
        torch.testing.assert_close(o, exact[k], rtol=1e-3, atol=1e-6)


def test_weights_restored_when_a_closure_raises():
    w = torch.nn.Parameter(torch.randn(3))
    a = torch.nn.Parameter(torch.randn(3))
    before = w.detach().clone()

    def bad():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        unrolled_arch_grads([w], [a], lambda: (w * a).sum() ** 2, bad, lr=0.1)
    assert torch.equal(w.detach(), before)
    with pytest.raises(ValueError, match="eps"):
        unrolled_arch_grads([w], [a], lambda: w.sum(), lambda: w.sum(), lr=0.1, eps=0)
