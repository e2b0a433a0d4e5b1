r"""The built-in synthetic data set: latent factors, communities and power-law popularity.

Generative model (all draws from ``numpy.random.default_rng(seed)``), with ``U`` users, ``I`` items,
``C`` communities and dimension ``d`` from :class:`~darts_gnn.config.SyntheticConfig`:

1. Every user and item belongs to one community, uniformly at random: :math:`c_u, c_i`.
2. Community centres :math:`m_c \sim N(0, I_d)`; user and item factors are noisy copies of their
   centre, :math:`x_u = m_{c_u} + \sigma \epsilon_u`, :math:`y_i = m_{c_i} + \sigma \epsilon_i`
   (:math:`\sigma` = ``noise`` = 0.8), normalised to unit length.
3. Item popularity follows a power law in a random rank order: :math:`p_i \propto r_i^{-a}` with
   ``a = popularity_exponent``.
4. User ``u`` picks :math:`n_u` distinct items (:math:`n_u` log-normal, sigma 0.8, with mean
   ``interactions_per_user``, at least 3), without replacement, with weights

   .. math:: w_{ui} = p_i \exp(\beta \langle x_u, y_i \rangle + b_u [c_u = c_i])

   with :math:`\beta` = ``beta`` = 2, where the per-user bonus :math:`b_u` is set so that a
   fraction ``in_community`` (0.8) of the weight falls on the user's own community. Sampling uses the Gumbel top-k trick on
   :math:`\log w_{ui}`. Since it is without replacement, about two thirds of the drawn pairs are
   in-community (1/C by chance).

Why multi-hop propagation helps: the signal is mostly "popular items of my community", but each
user reveals only ~25 of the ~``I/C`` items of their community. Two hops (user -> items -> users of
the same community) and three hops (-> their items) pool the community's interactions, which a
graph model gets from the structure and a plain MF model has to learn from few examples per user.
On the default configuration a 3-layer LightGCN beats MF clearly (numbers in ``docs/data.md``).
"""
from __future__ import annotations

import numpy as np

from ..config import SyntheticConfig
from .dataset import Dataset
from .splits import carve_valid, random_split

__all__ = ["make_synthetic", "synthetic_interactions"]

_CHUNK = 1 << 22  # score-matrix entries per chunk of users (bounds memory for large configs)


def synthetic_interactions(cfg: SyntheticConfig, seed: int, *, in_community: float = 0.8,
                           beta: float = 2.0, noise: float = 0.8, activity_sigma: float = 0.8,
                           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sample the interaction pairs ``[n, 2]`` (sorted by user) and the hidden truth.

    The dict holds ``user_community [U]``, ``item_community [I]``, ``user_factors [U, d]``,
    ``item_factors [I, d]`` and ``popularity [I]`` (sums to 1), for analysis and tests.
    """
    U, I, C, d = cfg.n_users, cfg.n_items, cfg.n_communities, cfg.dim
    if min(U, I, C, d) <= 0:
        raise ValueError(f"synthetic: n_users, n_items, n_communities and dim must be positive, got "
                         f"{U}, {I}, {C}, {d}")
    if not 0.0 < in_community < 1.0:
        raise ValueError(f"in_community must be in (0, 1), got {in_community}")
    rng = np.random.default_rng(seed)
    uc = rng.integers(0, C, size=U)
    ic = rng.integers(0, C, size=I)
    centres = rng.standard_normal((C, d))
    xu = centres[uc] + noise * rng.standard_normal((U, d))
    yi = centres[ic] + noise * rng.standard_normal((I, d))
    xu /= np.linalg.norm(xu, axis=1, keepdims=True)
    yi /= np.linalg.norm(yi, axis=1, keepdims=True)
    ranks = rng.permutation(I) + 1.0
    log_pop = -cfg.popularity_exponent * np.log(ranks)
    log_pop -= np.log(np.exp(log_pop - log_pop.max()).sum()) + log_pop.max()

    mean = max(float(cfg.interactions_per_user), 1.0)
    sigma = activity_sigma
    n_u = np.rint(rng.lognormal(np.log(mean) - sigma**2 / 2, sigma, size=U)).astype(np.int64)
    n_u = np.clip(n_u, min(3, I), max(1, I // 2))

    odds = np.log(in_community / (1.0 - in_community))
    users_out, items_out = [], []
    step = max(1, _CHUNK // I)
    for s in range(0, U, step):
        sl = slice(s, min(U, s + step))
        logit = beta * (xu[sl] @ yi.T) + log_pop[None, :]
        same = uc[sl, None] == ic[None, :]
        w = np.exp(logit - logit.max(axis=1, keepdims=True))
        w_in = (w * same).sum(axis=1)
        w_out = (w * ~same).sum(axis=1)
        # bonus b_u: e^b w_in / (e^b w_in + w_out) = in_community (no bonus if a side is empty)
        ok = (w_in > 0) & (w_out > 0)
        bonus = np.where(ok, odds + np.log(np.where(ok, w_out, 1.0) / np.where(ok, w_in, 1.0)), 0.0)
        g = logit + bonus[:, None] * same - np.log(-np.log(rng.random(logit.shape)))
        order = np.argsort(-g, axis=1, kind="stable")
        take = np.arange(I)[None, :] < n_u[sl, None]
        items_out.append(order[take])
        users_out.append(np.repeat(np.arange(sl.start, sl.stop), n_u[sl]))
    pairs = np.stack([np.concatenate(users_out), np.concatenate(items_out)], axis=1).astype(np.int64)
    truth = {"user_community": uc, "item_community": ic, "user_factors": xu, "item_factors": yi,
             "popularity": np.exp(log_pop)}
    return pairs, truth


def make_synthetic(cfg: SyntheticConfig | None = None, seed: int = 2020, *, test_fraction: float = 0.2,
                   valid_fraction: float = 0.1) -> Dataset:
    """The synthetic :class:`Dataset`: interactions from :func:`synthetic_interactions`, then a
    per-user random test holdout (``test_fraction``) and a validation carve (``valid_fraction``)
    of the remaining training pairs, both seeded by ``seed``. Same ``(cfg, seed)``, same data set.
    """
    cfg = cfg or SyntheticConfig()
    pairs, _ = synthetic_interactions(cfg, seed)
    train, test = random_split(pairs, test_fraction, seed)
    train, valid = carve_valid(train, valid_fraction, seed)
    return Dataset("synthetic", cfg.n_users, cfg.n_items, train, valid, test)
