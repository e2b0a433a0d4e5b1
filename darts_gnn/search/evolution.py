r"""Regularized (aging) evolution (Real et al., 2019) over the search space.

.. code-block:: text

    population <- P genotypes (uniform per choice, or drawn from a supernet's α: warm start)
    repeat C times (or until the budget is spent):
        S <- sample_size members drawn from the population without replacement (tournament)
        parent <- the member of S with the best validation Recall@20
        child <- mutate(parent): each choice re-drawn with probability mutation_rate (>= 1 change)
        score child (short training on train, Recall@20 on valid); append it; remove the OLDEST

Removing the oldest rather than the worst ("aging") regularises: a genotype survives only by
producing good children, not by one lucky score. Settings: ``search.evolution`` (population,
sample_size, cycles, child_epochs, mutation_rate, warm_start). With ``warm_start``, a DARTS supernet
search of ``search.epochs`` epochs runs first (its epochs and seconds count in the budget, which can
end it early) and the initial population is drawn per choice from its α's deterministic weights. At
least one genotype is always scored. Seeded: the same seed gives the same children and scores on CPU.
"""
from __future__ import annotations

import collections
import logging
import random

from ..space.genotype import Genotype, LayerGene
from .darts import budget_hook, build_darts_searcher
from .random_search import _canonical, sample_genotype
from .strategy import BudgetLedger, CandidateScorer, SearchStrategy, StrategyResult, register_strategy

__all__ = ["EvolutionStrategy", "mutate", "sample_from_probabilities"]

log = logging.getLogger("darts_gnn.search.evolution")

#: Stop after this many children in a row that were already scored (no training, no budget use).
MAX_STALLS = 100


def _maybe(cands, current, rng: random.Random, rate: float):
    others = [c for c in cands if c != current]
    return rng.choice(others) if others and rng.random() < rate else current


def mutate(genotype: Genotype, space, rng: random.Random, rate: float) -> Genotype:
    """A child of ``genotype``: every choice (depth, width, combine, each layer's aggregator /
    transform / skip) is re-drawn among its *other* candidates with probability ``rate``; new layers
    (depth grew) are drawn uniformly. Retries until the child differs (100 tries; a space of one
    architecture returns the parent)."""
    parent = _canonical(genotype)
    for _ in range(100):
        depth = _maybe(space.depths, genotype.depth, rng, rate)
        layers = []
        for l in range(depth):
            old = genotype.layers[l] if l < genotype.depth else None
            if old is None:
                layers.append(LayerGene(rng.choice(space.aggregators), rng.choice(space.transforms),
                                        rng.choice(space.skips)))
            else:
                layers.append(LayerGene(_maybe(space.aggregators, old.aggregator, rng, rate),
                                        _maybe(space.transforms, old.transform, rng, rate),
                                        _maybe(space.skips, old.skip, rng, rate)))
        child = _canonical(Genotype(tuple(layers), _maybe(space.combines, genotype.combine, rng, rate),
                                    _maybe(space.widths, genotype.width, rng, rate)))
        if child != parent:
            return child
    return parent


def _draw(probs: dict[str, float] | None, cands, rng: random.Random):
    if not probs:
        return rng.choice(cands)
    names = [str(c) for c in cands]
    weights = [max(float(probs.get(n, 0.0)), 0.0) for n in names]
    if sum(weights) <= 0:
        return rng.choice(cands)
    return cands[rng.choices(range(len(cands)), weights=weights)[0]]


def sample_from_probabilities(space, probabilities: dict[str, dict[str, float]], rng: random.Random) -> Genotype:
    """One genotype drawn per choice from ``{choice key: {candidate: weight}}`` (a supernet's
    :meth:`~darts_gnn.search.SuperNet.probabilities`; weights are normalised per choice, missing
    choices are uniform)."""
    depth = _draw(probabilities.get("depth"), space.depths, rng)
    layers = tuple(LayerGene(_draw(probabilities.get(f"layer{l}.aggregator"), space.aggregators, rng),
                             _draw(probabilities.get(f"layer{l}.transform"), space.transforms, rng),
                             _draw(probabilities.get(f"layer{l}.skip"), space.skips, rng))
                   for l in range(depth))
    return _canonical(Genotype(layers, _draw(probabilities.get("combine"), space.combines, rng),
                               _draw(probabilities.get("width"), space.widths, rng)))


@register_strategy("evolution")
class EvolutionStrategy(SearchStrategy):
    """Regularized evolution (module docstring); section ``search.evolution``."""

    def search(self) -> StrategyResult:
        opts, ctx = self.options, self.ctx
        if opts.cycles is None and not ctx.budget.limited:
            raise ValueError("search.evolution.cycles is null: set search.budget_seconds or "
                             "search.budget_epochs, or a number of cycles")
        ledger = BudgetLedger(ctx.budget)
        scorer = CandidateScorer(ctx, ledger, epochs=opts.child_epochs)
        space, rng = ctx.space(), random.Random(ctx.seed)
        draw = self._initial_sampler(ledger, space)
        population: collections.deque = collections.deque()
        history: list[dict] = []
        while len(population) < opts.population and not (population and ledger.exhausted()):
            g = draw(rng)
            rec = scorer.score(g)
            population.append((g, rec["score"]))
            history.append({"event": "initial", **rec})
        cycle, stalls = 0, 0
        while (opts.cycles is None or cycle < opts.cycles) and not ledger.exhausted() and stalls < MAX_STALLS:
            tournament = rng.sample(list(population), min(opts.sample_size, len(population)))
            parent = max(tournament, key=lambda m: m[1])[0]
            child = mutate(parent, space, rng, opts.mutation_rate)
            n_before = len(scorer.records)
            rec = scorer.score(child)
            stalls = stalls + 1 if len(scorer.records) == n_before else 0
            population.append((child, rec["score"]))
            population.popleft()
            history.append({"event": "child", "cycle": cycle, "parent": parent.summary(), **rec})
            log.info("evolution cycle %d: %s -> %s  valid %s=%.4f", cycle, parent.summary(), child.summary(),
                     scorer.monitor, rec["score"])
            cycle += 1
        return scorer.result(history, cycles=cycle, population=[g.to_dict() for g, _ in population],
                             warm_start=opts.warm_start)

    def _initial_sampler(self, ledger: BudgetLedger, space):
        """Uniform per choice, or (warm start) per choice from a short supernet search's α."""
        if not self.options.warm_start:
            return lambda rng: _canonical(sample_genotype(space, rng))
        ctx = self.ctx
        hooks = [budget_hook(ctx.budget)] if ctx.budget.limited else []
        searcher = build_darts_searcher(ctx.cfg, ctx.dataset, ctx.graph, None, hooks=hooks, progress=False)
        res = searcher.run()
        ledger.add_epochs(res.epochs_run)
        probs = res.probabilities
        log.info("evolution warm start: %d supernet epochs, %.1f s", res.epochs_run, res.seconds)
        return lambda rng: sample_from_probabilities(space, probs, rng)
