"""The option sections of the built-in search strategies: ``search.random``, ``search.evolution`` and
``search.rl`` (see :mod:`.schema` for the rest of the schema)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["RandomConfig", "EvolutionConfig", "RLConfig", "check_section"]


def check_section(section: str, checks: list[tuple[str, bool, str]], obj: Any) -> None:
    """Raise :class:`ConfigError` naming ``section.key`` for the first ``(key, ok, expected)`` not ok."""
    for name, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{section}.{name}: expected {expected}, got {getattr(obj, name)!r}")


@dataclass
class RandomConfig:
    """``search.random``: random search (:mod:`darts_gnn.search.random_search`) tries ``samples``
    genotypes drawn uniformly per choice, each trained briefly (``child_epochs``, or an even share of
    ``search.budget_seconds`` / ``search.budget_epochs`` when set) and scored on validation Recall@20."""
    samples: int = 8
    child_epochs: int = 5

    def __post_init__(self) -> None:
        check_section("search.random", [("samples", self.samples >= 1, "a positive integer"),
                                 ("child_epochs", self.child_epochs >= 1, "a positive integer")], self)


@dataclass
class EvolutionConfig:
    """``search.evolution``: regularized (aging) evolution (:mod:`darts_gnn.search.evolution`).

    A population of ``population`` genotypes; each cycle samples ``sample_size`` of them, mutates the
    best (each choice re-drawn with probability ``mutation_rate``, at least one changed), trains the
    child ``child_epochs`` epochs and scores it on validation Recall@20, adds it and removes the
    oldest. ``cycles`` children after the initial population (``null``: until ``search.budget_*`` is
    spent). ``warm_start``: draw the initial population from the α of a short supernet search
    (``search.epochs`` epochs, counted in the budget) instead of uniformly.
    """
    population: int = 8
    sample_size: int = 3
    cycles: int | None = 16
    child_epochs: int = 3
    mutation_rate: float = 0.2
    warm_start: bool = False

    def __post_init__(self) -> None:
        check_section("search.evolution", [
            ("population", self.population >= 2, "an integer >= 2"),
            ("sample_size", 1 <= self.sample_size <= self.population, "an integer in [1, population]"),
            ("cycles", self.cycles is None or self.cycles >= 0, "a non-negative integer or null"),
            ("child_epochs", self.child_epochs >= 1, "a positive integer"),
            ("mutation_rate", 0.0 <= self.mutation_rate <= 1.0, "a number in [0, 1]"),
        ], self)


@dataclass
class RLConfig:
    """``search.rl``: REINFORCE (:mod:`darts_gnn.search.rl`). A controller with one logit row per
    choice samples ``episodes`` genotypes (``null``: until ``search.budget_*`` is spent); each is
    trained ``child_epochs`` epochs, its reward is validation Recall@20. Adam (``lr``) on the
    policy gradient with a moving-average baseline (``baseline_decay``) and an entropy bonus
    (``entropy_weight``). ``controller``: ``logits`` (independent per-choice logits) or ``lstm`` (an
    LSTM of ``hidden`` units that conditions each choice on the previous ones)."""
    episodes: int | None = 24
    child_epochs: int = 3
    lr: float = 0.1
    baseline_decay: float = 0.8
    entropy_weight: float = 0.01
    controller: str = "logits"
    hidden: int = 32

    def __post_init__(self) -> None:
        check_section("search.rl", [
            ("controller", self.controller in ("logits", "lstm"), "logits or lstm"),
            ("hidden", self.hidden >= 1, "a positive integer"),
            ("episodes", self.episodes is None or self.episodes >= 1, "a positive integer or null"),
            ("child_epochs", self.child_epochs >= 1, "a positive integer"),
            ("lr", self.lr > 0, "a positive number"),
            ("baseline_decay", 0.0 <= self.baseline_decay < 1.0, "a number in [0, 1)"),
            ("entropy_weight", self.entropy_weight >= 0, "a non-negative number"),
        ], self)
