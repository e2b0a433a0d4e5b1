"""The robustness sections of ``search``: ``search.guard`` (the Hessian-eigenvalue collapse guard of
:mod:`darts_gnn.search.hessian`) and ``search.checkpoint`` (search checkpoints,
:mod:`darts_gnn.search.checkpoint`). Each validates its own keys when the config is loaded."""
from __future__ import annotations

from dataclasses import dataclass

from .strategies import check_section

__all__ = ["GuardConfig", "CheckpointConfig", "MOVED_KEYS"]

#: Flat keys of earlier versions and where they live now (named in the unknown-key error).
MOVED_KEYS = {
    "search.hessian_every": "search.guard.every",
    "search.hessian_iters": "search.guard.iters",
    "search.hessian_stop_factor": "search.guard.stop_factor",
    "search.hessian_window": "search.guard.window",
    "search.checkpoint_every": "search.checkpoint.every",
}


@dataclass
class GuardConfig:
    """``search.guard``: the dominant Hessian eigenvalue of the validation loss with respect to α,
    measured every ``every`` epochs (0: never) by ``iters`` power iterations on one fixed validation
    batch. With ``stop_factor > 0`` the search stops early once the mean of the last ``window``
    measurements exceeds ``stop_factor`` times the mean of the first ``window`` (a sign of DARTS's
    collapse to parameter-free operations; 0: log only)."""
    every: int = 0
    iters: int = 20
    stop_factor: float = 0.0
    window: int = 2

    def __post_init__(self) -> None:
        check_section("search.guard", [
            ("every", self.every >= 0, "a non-negative integer (0: never)"),
            ("iters", self.iters >= 1, "a positive integer"),
            ("stop_factor", self.stop_factor >= 0, "a non-negative number (0: log only)"),
            ("window", self.window >= 1, "a positive integer"),
        ], self)


@dataclass
class CheckpointConfig:
    """``search.checkpoint``: the search state (weights, α, both optimisers, RNG states, history) is
    written atomically to ``search_state.pt`` every ``every`` epochs and at the end, so that
    ``darts-gnn search --resume RUN_DIR`` continues an interrupted search."""
    every: int = 1

    def __post_init__(self) -> None:
        check_section("search.checkpoint", [("every", self.every >= 1, "a positive integer")], self)
