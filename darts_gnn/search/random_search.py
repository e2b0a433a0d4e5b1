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

Budget: exactly one of
  * ``budget_epochs``: total training epochs over all samples, split evenly
    (``budget_epochs // n_samples`` each, at least 1);
  * ``budget_seconds``: total wall-clock seconds of training, split evenly; a sample trains (at most
    ``train_cfg.epochs`` epochs) until its share is used, finishing the epoch in progress.
Validation time is not counted in the share, but is in :attr:`RandomSearchResult.seconds`.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import TrainConfig
from ..genotype import Genotype, LayerGene
from ..metrics import Evaluator
from ..seed import seed_everything
from ..train import Trainer

__all__ = ["sample_genotype", "sample_genotypes", "random_search", "RandomSearchResult"]

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


@dataclass
class RandomSearchResult:
    """What :func:`random_search` returns.

    ``best``: the genotype with the highest validation ``monitor``; ``best_valid``: its validation
    metrics; ``trials``: one record per sample (``genotype`` dict, ``summary``, ``valid`` metrics,
    ``epochs``, ``train_seconds``, ``seconds``); ``seconds``: wall time of the whole search;
    ``retrain``: test metrics (and training record) of the retrained best genotype when
    ``retrain=True``, else ``None``; ``model``: the retrained model (not serialised).
    """
    best: Genotype
    best_valid: dict[str, float]
    trials: list[dict[str, Any]]
    seconds: float
    monitor: str = "recall@20"
    retrain: dict[str, Any] | None = None
    model: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"best": self.best.to_dict(), "best_valid": self.best_valid, "monitor": self.monitor,
                "seconds": self.seconds, "trials": self.trials, "retrain": self.retrain}


class _Deadline:
    """``on_epoch_end`` callback: stop once ``seconds`` of training have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.used = 0.0

    def __call__(self, epoch: int, record: dict) -> bool:
        self.used += float(record.get("seconds", 0.0))
        return self.used >= self.seconds


def random_search(space, dataset, graph, n_samples: int, budget_epochs: int | None = None,
                  budget_seconds: float | None = None, train_cfg: TrainConfig | None = None,
                  seed: int = 0, evaluator: Evaluator | None = None, retrain: bool = False,
                  retrain_cfg: TrainConfig | None = None, writer=None) -> RandomSearchResult:
    """Random search over ``space`` (a :class:`~darts_gnn.space.SearchSpace`).

    Args:
        space, dataset, graph: the search space, the :class:`~darts_gnn.data.Dataset` and its training
            :class:`~darts_gnn.data.Graph`.
        n_samples: how many genotypes to try.
        budget_epochs, budget_seconds: the total training budget, exactly one of them (module docstring).
        train_cfg: settings of the short trial trainings (lr, batch size, l2, device, ks...); its
            ``epochs`` caps a trial under ``budget_seconds``. Progress bars are switched off.
        seed: seeds genotype sampling and every trial (model initialisation and batches), so trials
            differ only by architecture.
        evaluator: validation evaluator (default ``Evaluator(dataset, train_cfg.ks)``).
        retrain: retrain the best genotype from scratch with ``retrain_cfg`` (default ``train_cfg``
            with its own ``epochs``) and evaluate it on test; the result goes to ``.retrain``.
        writer: TensorBoard-like ``add_scalar``: ``random/valid_<monitor>`` per trial and
            ``random/best_<monitor>``.
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
    if len(dataset.valid) == 0:
        raise ValueError("random_search: the data set has no validation interactions to select on; "
                         "set data.valid_fraction > 0")
    train_cfg = train_cfg or TrainConfig()
    evaluator = evaluator or Evaluator(dataset, ks=train_cfg.ks, batch_users=train_cfg.eval_batch_users)
    monitor = "recall@20" if 20 in evaluator.ks else f"recall@{evaluator.ks[0]}"
    if budget_epochs is not None:
        per_epochs = max(1, budget_epochs // n_samples)
        per_seconds = math.inf
    else:
        per_epochs = max(1, train_cfg.epochs)
        per_seconds = budget_seconds / n_samples
    # evaluate once, after the last epoch (patience cannot trigger with a single evaluation)
    trial_cfg = dataclasses.replace(train_cfg, epochs=per_epochs, eval_every=per_epochs + 1,
                                    progress=False, seed=seed)
    genotypes = sample_genotypes(space, n_samples, seed)
    t_start = time.perf_counter()
    trials: list[dict[str, Any]] = []
    best_i, best_score = 0, -math.inf
    for i, g in enumerate(genotypes):
        t0 = time.perf_counter()
        seed_everything(seed)
        model = g.build_model(dataset, graph)
        deadline = _Deadline(per_seconds) if math.isfinite(per_seconds) else None
        trainer = Trainer(model, dataset, trial_cfg, evaluator=evaluator, graph=graph,
                          on_epoch_end=deadline)
        res = trainer.fit()
        valid = dict(res.best_valid) if res.best_valid else evaluator.evaluate(trainer.model, "valid")
        train_s = sum(r["seconds"] for r in res.history)
        score = float(valid[monitor])
        if not math.isfinite(score):
            score = -math.inf
        trials.append({"index": i, "genotype": g.to_dict(), "summary": g.summary(),
                       "valid": {k: float(v) for k, v in valid.items()}, "epochs": res.epochs_run,
                       "train_seconds": train_s, "seconds": time.perf_counter() - t0})
        if writer is not None:
            writer.add_scalar(f"random/valid_{monitor}", score, i)
        log.info("random search %d/%d: %s  valid %s=%.4f (%d epochs, %.1f s)", i + 1, n_samples,
                 g.summary(), monitor, score, res.epochs_run, trials[-1]["seconds"])
        if score > best_score:
            best_i, best_score = i, score
        if writer is not None:
            writer.add_scalar(f"random/best_{monitor}", best_score, i)
        del trainer, model
    seconds = time.perf_counter() - t_start
    best = genotypes[best_i]
    result = RandomSearchResult(best, trials[best_i]["valid"], trials, seconds, monitor)
    if retrain:
        cfg = retrain_cfg or train_cfg
        seed_everything(cfg.seed)
        model = best.build_model(dataset, graph)
        t0 = time.perf_counter()
        res = Trainer(model, dataset, cfg, evaluator=evaluator, graph=graph).fit()
        retrain_s = time.perf_counter() - t0
        test = evaluator.evaluate(model, "test")
        result.retrain = {"test": {k: float(v) for k, v in test.items()},
                          "best_valid": {k: float(v) for k, v in res.best_valid.items()},
                          "best_epoch": res.best_epoch, "epochs": res.epochs_run, "seconds": retrain_s}
        result.model = model
    return result
