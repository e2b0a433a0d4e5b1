"""The wall-clock budget of the validated selection (:mod:`darts_gnn.search.select`): which candidate
still starts, the reserve for the final retrain, and the config's settings for both."""
from __future__ import annotations


from .. import distributed
from ..engine import clock

__all__ = ["START_FRACTION", "final_retrain_estimate", "budget_for", "total_seconds"]

#: A candidate starts when this fraction of its predicted cost still fits the selection budget; the
#: deadline (:func:`~darts_gnn.search.early_cut.deadline_rule`) stops it when the budget runs out, with
#: its best weights (a run's last ``select_patience`` evaluations never improve it).
START_FRACTION = 0.5


def final_retrain_estimate(seconds: float, epochs: int, extra_epochs: int = 0,
                           max_epochs: int | None = None) -> float:
    """Predicted seconds of the final retrain of a candidate that took ``seconds`` over ``epochs``
    epochs under the short protocol: its measured seconds per epoch times ``epochs + extra_epochs``
    (the longer patience of the full protocol), capped at ``max_epochs``."""
    n = epochs + max(0, int(extra_epochs))
    if max_epochs is not None:
        n = min(n, int(max_epochs))
    return seconds / max(1, epochs) * max(1, n)


class _Budget:
    """Seconds left for selection. A run starts only if its predicted cost (the mean so far) plus, with
    ``reserve_final``, the reserve for the final retrain still fit; the reserve is
    :func:`final_retrain_estimate` of the best candidate so far (its measured epochs and seconds per
    epoch). The first run always starts, unless there is a candidate to fall back on (the incumbent)
    and no time left."""

    def __init__(self, seconds: float | None, extra_epochs: int = 0, max_epochs: int | None = None,
                 reserve_final: bool = True, start_fraction: float = 1.0):
        self.seconds = seconds
        self.start_fraction = float(start_fraction)
        self.reserve_final = reserve_final
        self.spent: list[float] = []
        self.extra_epochs, self.max_epochs = extra_epochs, max_epochs
        self.reserve = 0.0
        self.skipped = 0  # candidates that did not fit
        self.t0 = clock.now()

    def record(self, seconds: float, best) -> None:
        """Account one finished run; ``best`` is the best :class:`~darts_gnn.search.select.Candidate`
        after it (the reserve follows it)."""
        self.spent.append(seconds)
        if self.reserve_final:
            self.reserve = final_retrain_estimate(best.seconds, best.epochs, self.extra_epochs, self.max_epochs)

    def left(self) -> float | None:
        """Seconds left before the budget (less the reserve) runs out; ``None`` without a budget."""
        if self.seconds is None:
            return None
        return self.seconds - (clock.now() - self.t0) - self.reserve

    def allows(self, factor: float = 1.0, fallback: bool = False) -> bool:
        """Whether ``start_fraction`` of a run predicted to cost ``factor`` x the mean run so far still
        fits (the deadline stops a run that started with less than its whole predicted cost left);
        ``fallback``: a candidate already exists (then even the first run needs time left)."""
        if self.seconds is None or (not self.spent and not fallback):
            return True
        if not self.spent:     # with a candidate to fall back on, the first run needs time left too
            return distributed.agree(clock.now() - self.t0 + self.reserve < self.seconds)
        mean = sum(self.spent) / len(self.spent)
        need = self.start_fraction * factor * mean
        # data parallel: rank 0's clock decides, so that every rank retrains the same candidates
        return distributed.agree(clock.now() - self.t0 + need + self.reserve <= self.seconds)


def budget_for(cfg, seconds: float | None) -> _Budget:
    """The selection's :class:`_Budget` under ``cfg``: the full protocol's extra patience over the short
    one sizes the final-retrain reserve, which only ``search.budget_includes_final`` keeps."""
    s = cfg.search
    extra = max(0, cfg.train.patience - s.select_patience) * cfg.train.eval_every
    return _Budget(seconds, extra_epochs=extra, max_epochs=cfg.train.epochs, reserve_final=s.budget_includes_final,
                   start_fraction=START_FRACTION)


def total_seconds(search_cfg, reference_seconds: float) -> float:
    """The whole budget of search + selection: ``search.total_budget_seconds`` when set, else
    ``search.budget_factor`` x one baseline training (``reference_seconds``)."""
    s = search_cfg
    return s.total_budget_seconds if s.total_budget_seconds is not None else s.budget_factor * reference_seconds
