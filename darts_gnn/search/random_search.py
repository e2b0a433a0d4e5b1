"""Random search in the same space: the baseline every architecture search must beat.

Sample ``n_samples`` genotypes, train each briefly from scratch with the foundation's trainer, score
each on the **validation** split (Recall@20; the test split is never looked at), keep the best and,
when asked, retrain it under the full protocol. Li & Talwalkar (2019) found such a baseline hard to
beat at equal cost; darts-gnn runs it at the same budget as one DARTS search (``darts-gnn compare``).

Sampling is uniform *per choice*, independently: the depth uniformly from ``space.depths``, the width
and the layer combination uniformly, then each used layer's aggregator, transform and skip uniformly.
This is the distribution a DARTS search starts from (α = 0 gives every candidate the same weight),
not uniform over distinct architectures (which would almost never pick a shallow one, because deep
architectures outnumber them). Distinct genotypes are drawn while the space allows; depth-0 genotypes
(matrix factorisation) differ only by width, the layer combination does not matter there.

Budget (:class:`~darts_gnn.search.strategy.Budget`): with ``search.budget_epochs`` every sample
trains ``budget_epochs // samples`` epochs (at least 1); with ``search.budget_seconds`` every sample
trains (at most ``train.epochs`` epochs) until its even share of the seconds is used, finishing the
epoch in progress; with neither, ``search.random.child_epochs`` epochs each.

As a strategy: ``search.strategy: random`` (section ``search.random``); as a function:
:func:`random_search`. Both return a :class:`~darts_gnn.search.strategy.StrategyResult` whose
``history`` holds one record per sample (``genotype``, ``summary``, ``valid`` metrics, ``score``,
``epochs``, ``train_seconds``, ``seconds``).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random

from ..config import Config, TrainConfig
from ..space.genotype import Genotype, LayerGene
from ..tasks.metrics import Evaluator
from .strategy import (Budget, BudgetLedger, CandidateScorer, SearchContext, SearchStrategy, StrategyResult,
                       register_strategy)

__all__ = ["sample_genotype", "sample_genotypes", "random_search", "RandomStrategy"]

log = logging.getLogger("darts_gnn.search.random")


def sample_genotype(space, rng: random.Random) -> Genotype:
    """One genotype of ``space`` drawn uniformly per choice (see the module docstring)."""
    depth = rng.choice(space.depths)
    width = rng.choice(space.widths)
    combine = rng.choice(space.combines)
    layers = tuple(LayerGene(rng.choice(space.aggregators), rng.choice(space.transforms),
                             rng.choice(space.skips)) for _ in range(depth))
    return Genotype(layers, combine, width)


def _canonical(g: Genotype) -> Genotype:
    # with no layers every combine returns the ego embeddings: one architecture per width
    return Genotype((), "mean", g.width) if g.depth == 0 else g


def sample_genotypes(space, n: int, seed: int = 0, distinct: bool = True) -> list[Genotype]:
    """``n`` genotypes from a ``random.Random(seed)`` stream; distinct while the space has enough
    (after ``100 * n`` draws without a new one, duplicates are allowed)."""
    rng = random.Random(seed)
    out: list[Genotype] = []
    seen: set[Genotype] = set()
    misses = 0
    while len(out) < n:
        g = _canonical(sample_genotype(space, rng))
        if distinct and g in seen and misses < 100 * n:
            misses += 1
            continue
        seen.add(g)
        out.append(g)
    return out


def _search(space, scorer: CandidateScorer, n_samples: int, seed: int,
            per_seconds: float | None) -> StrategyResult:
    for i, g in enumerate(sample_genotypes(space, n_samples, seed)):
        rec = scorer.score(g, budget_seconds=per_seconds)
        log.info("random search %d/%d: %s  valid %s=%.4f (%d epochs, %.1f s)", i + 1, n_samples,
                 g.summary(), scorer.monitor, rec["score"], rec["epochs"], rec["seconds"])
    return scorer.result()


def _shares(n_samples: int, budget: Budget, epochs_cap: int, child_epochs: int) -> tuple[int, float | None]:
    """Epochs and seconds of one sample under ``budget`` (see the module docstring)."""
    if budget.epochs is not None:
        return max(1, budget.epochs // n_samples), None
    if budget.seconds is not None:
        return max(1, epochs_cap), budget.seconds / n_samples
    return child_epochs, None


@register_strategy("random")
class RandomStrategy(SearchStrategy):
    """Random search (module docstring): ``search.random.samples`` genotypes, best validation
    Recall@20 first."""

    def search(self) -> StrategyResult:
        opts, ctx = self.options, self.ctx
        epochs, per_seconds = _shares(opts.samples, ctx.budget, ctx.cfg.train.epochs, opts.child_epochs)
        scorer = CandidateScorer(ctx, BudgetLedger(ctx.budget), epochs=epochs)
        return _search(ctx.space(), scorer, opts.samples, ctx.seed, per_seconds)


def random_search(space, dataset, graph, n_samples: int, budget_epochs: int | None = None,
                  budget_seconds: float | None = None, train_cfg: TrainConfig | None = None,
                  seed: int = 0, evaluator: Evaluator | None = None, writer=None) -> StrategyResult:
    """Random search over ``space`` (a :class:`~darts_gnn.space.registry.SearchSpace`) without a full config.

    Args:
        space, dataset, graph: the search space, the :class:`~darts_gnn.data.Dataset` and its training
            :class:`~darts_gnn.data.Graph`.
        n_samples: how many genotypes to try.
        budget_epochs, budget_seconds: the total training budget, exactly one of them (module docstring).
        train_cfg: settings of the short trainings (lr, batch size, l2, device, ks...); its
            ``epochs`` caps a sample under ``budget_seconds``. Progress bars are switched off.
        seed: seeds genotype sampling and every sample (model initialisation and batches), so samples
            differ only by architecture.
        evaluator: validation evaluator (default ``Evaluator(dataset, train_cfg.ks)``).
        writer: TensorBoard-like ``add_scalar``: ``search/valid_<monitor>`` per sample.
    """
    if (budget_epochs is None) == (budget_seconds is None):
        raise ValueError("random_search: give exactly one of budget_epochs and budget_seconds, got "
                         f"budget_epochs={budget_epochs!r}, budget_seconds={budget_seconds!r}")
    if n_samples < 1:
        raise ValueError(f"random_search: n_samples must be >= 1, got {n_samples}")
    if budget_epochs is not None and budget_epochs < 1:
        raise ValueError(f"random_search: budget_epochs must be >= 1, got {budget_epochs}")
    if budget_seconds is not None and not (budget_seconds > 0 and math.isfinite(budget_seconds)):
        raise ValueError(f"random_search: budget_seconds must be a positive number, got {budget_seconds}")
    train_cfg = train_cfg or TrainConfig()
    evaluator = evaluator or Evaluator(dataset, ks=train_cfg.ks, batch_users=train_cfg.eval_batch_users)
    budget = Budget(budget_seconds, budget_epochs)
    epochs, per_seconds = _shares(n_samples, budget, train_cfg.epochs, 1)
    trial_cfg = dataclasses.replace(train_cfg, epochs=epochs, eval_every=epochs + 1, progress=False, seed=seed)
    ctx = SearchContext(Config(train=trial_cfg), dataset, graph, evaluator, writer=writer)
    scorer = CandidateScorer(ctx, BudgetLedger(budget), train_cfg=trial_cfg)
    return _search(space, scorer, n_samples, seed, per_seconds)
