r"""Is the best candidate really ahead of the incumbent? A paired test on the validation users.

The selection keeps the candidate with the best mean validation score. On a small or sparse
validation split that mean is noisy, and the maximum over several candidates is biased upwards: on a
Gowalla subsample (1,195 users) the session-4 winner led on validation and lost 15% on test. Both
models are scored on the *same* users, so the noise of the difference is much smaller than that of
either score. For per-user scores :math:`a_u` (challenger) and :math:`b_u` (incumbent) over ``n``
users, :math:`d_u = a_u - b_u`,

.. math::  \mathrm{gain} = \bar d, \qquad \mathrm{se} = \frac{s_d}{\sqrt n}

and the challenger replaces the incumbent only when ``gain > z * se`` (``search.select_incumbent_z``,
default 1.645: one-sided 95%). Otherwise the incumbent, the baseline under the ``train`` section's
protocol, is kept: a tie with it, never a loss caused by validation noise.
"""
from __future__ import annotations

import math

import torch

__all__ = ["paired_gain", "incumbent_holds"]


def paired_gain(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """``(mean of a - b, its standard error)`` for two ``[n]`` per-user score vectors of the same users
    (``se`` is ``nan`` for fewer than 2 users)."""
    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(f"paired_gain: expected two [n] vectors of the same users, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    d = a.double() - b.double()
    n = d.numel()
    if n < 2:
        return (float(d.mean()) if n else math.nan), math.nan
    return float(d.mean()), float(d.std(unbiased=True)) / math.sqrt(n)


def incumbent_holds(best, incumbent, z: float) -> tuple[bool, float, float]:
    """``(keep the incumbent?, gain, se)`` for the selection's ``best`` candidate against the
    ``incumbent`` (both :class:`~darts_gnn.search.select.Candidate` with ``per_user`` scores of the
    monitored metric, higher is better). Without per-user scores on either side, or with ``z <= 0``,
    the means decide as before (``gain`` and ``se`` are ``nan``)."""
    if best is incumbent or z <= 0 or best.per_user is None or incumbent.per_user is None:
        return best is incumbent, math.nan, math.nan
    gain, se = paired_gain(best.per_user, incumbent.per_user)
    if math.isnan(se):
        return False, gain, se
    return not gain > z * se, gain, se
