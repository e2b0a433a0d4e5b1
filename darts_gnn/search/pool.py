r"""The candidate pool of the selection stage, built from a trained supernet, and the stage itself.

:func:`run_selection` is what :func:`~darts_gnn.pipeline.run_search` calls after the search: it
draws genotypes from α, scores them one-shot (the supernet's validation Recall with α one-hot at
each), ranks them, puts the strategy's own picks (argmax, greedy) first, adds the config's baseline
model when it is a point of the space, hands the pool to
:func:`~darts_gnn.search.select.select_genotype` within the budget, and records the proxy
diagnostics (Spearman of one-shot vs retrained validation score, the baseline's one-shot score).
"""
from __future__ import annotations

import json
import math
import random
from typing import Any, Callable, Sequence

import torch

from ..engine.seed import seed_everything
from .evolution import mutate
from .random_search import _canonical
from ..tasks.base import signed, task_of
from .select import (INCUMBENT, Candidate, _dedupe, select_genotype, selection_metric, train_candidate, valid_curve,
                     valid_per_user)
from .selection_budget import total_seconds
from ..space.recipe import Recipe
from ..space.genotype import Genotype, LayerGene
from ..tasks.metrics import Evaluator, SampledEvaluator
from ..nn.models import build_model
from ..engine.train import Trainer
from ..engine import clock

__all__ = ["one_shot_scores", "sample_genotypes", "baseline_genotype", "build_pool", "run_selection", "shallow_cover",
           "estimate_baseline_seconds", "ESTIMATED_BASELINE_EPOCHS", "incumbent_candidate", "reference_and_incumbent",
           "proxy_evaluator", "INCUMBENT_FILE", "incumbent_state", "incumbent_from_state"]

#: Epochs assumed for one full baseline training when its time was not measured (a LightGCN run
#: under the shipped protocol early-stops after roughly this many on the benchmark data sets).
ESTIMATED_BASELINE_EPOCHS = 150


def baseline_genotype(model_cfg):
    """The config's hand-designed model as a genotype (``lightgcn``, ``mf``), or ``None`` (``ngcf``)."""
    if model_cfg.name == "lightgcn":
        return Genotype.lightgcn(int(model_cfg.n_layers), int(model_cfg.dim))
    if model_cfg.name == "mf":
        return Genotype.mf(int(model_cfg.dim))
    return None


@torch.no_grad()
def one_shot_scores(model, genotypes: Sequence, evaluator, metric: str | None = None) -> dict:
    """``{genotype: validation metric of the supernet with α one-hot at it}`` (α restored after);
    genotypes outside the supernet's space are left out."""
    task = task_of(evaluator)
    metric = metric or (task.monitor if task is not None else
                        "recall@20" if 20 in evaluator.ks else f"recall@{evaluator.ks[0]}")
    saved = [a.detach().clone() for a in model.arch_parameters()]
    out = {}
    try:
        for g in _dedupe(genotypes):
            arch = g.with_(recipe=None, norm=False)
            if not model.space.contains(arch):
                continue
            model.set_genotype(arch)
            out[g] = float(evaluator.evaluate(model, "valid")[metric])
    finally:
        for a, v in zip(model.arch_parameters(), saved):
            a.copy_(v)
    return out


def sample_genotypes(model, n: int, seed: int = 0, depth: int | None = None) -> list:
    """Up to ``n`` distinct genotypes drawn from the supernet's deterministic α weights (one
    categorical draw per choice; layers beyond the drawn depth dropped), in draw order. ``depth``:
    every draw takes that depth instead of drawing one (the other choices as usual)."""
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        w = model.arch_weights(deterministic=True)
    out: list = []
    for _ in range(max(0, int(n)) * 4):
        if len(out) >= n:
            break
        pick = {c.key: (c.candidates[int(torch.multinomial(w[c.key].float().clamp_min(0) + 1e-12, 1, generator=gen))]
                        if c.searched else c.candidates[0]) for c in model.choices}
        if depth is not None:
            pick["depth"] = depth
        layers = tuple(LayerGene(pick[f"layer{l}.aggregator"], pick[f"layer{l}.transform"],
                                 pick[f"layer{l}.skip"]) for l in range(int(pick["depth"])))
        g = Genotype(layers, pick["combine"], int(pick["width"]))
        if g not in out:
            out.append(g)
    return out



def proxy_evaluator(cfg, evaluator, log: Callable[[str], None] | None = None):
    """The evaluator of the search's one-shot evaluations (greedy derivation, pool scores): a
    :class:`~darts_gnn.tasks.metrics.SampledEvaluator` over ``search.proxy_users`` validation users
    (seeded with the search's seed; the choice is logged) when the split has more, else ``evaluator``
    itself (also for a task's own evaluator). On a 21k-item catalog one such evaluation of all 5.9k
    users costs about a second, and a search makes about a hundred of them."""
    n = cfg.search.proxy_users
    if n is None or task_of(evaluator) is not None or not isinstance(evaluator, Evaluator):
        return evaluator
    total = int(evaluator.users("valid").numel())
    if total <= n:
        return evaluator
    seed = cfg.search.seed if cfg.search.seed is not None else cfg.train.seed
    if log is not None:
        log(f"one-shot evaluations (derivation, pool scores) on a fixed random {n} of the {total} validation "
            f"users (search.proxy_users); candidates train and compete on all of them")
    return SampledEvaluator(evaluator, n, seed)


def build_pool(model, evaluator, picks: Sequence, n_samples: int, seed: int, baseline=None):
    """``(ranked pool, one-shot scores)``: ``picks`` (the strategy's genotypes) first, then the
    samples from α by one-shot score (best first), the ``baseline`` genotype last (when in the space)."""
    samples = sample_genotypes(model, n_samples, seed)
    extra = [baseline] if baseline is not None and model.space.contains(baseline) else []
    scores = one_shot_scores(model, list(picks) + samples + extra, evaluator)
    ranked = sorted(samples, key=lambda g: -signed(evaluator, scores[g]) if g in scores else math.inf)
    return _dedupe(list(picks) + ranked), extra, scores


def shallow_cover(model, evaluator, pool: Sequence, n_samples: int, seed: int, scores: dict):
    """The selection's shallow candidate (``search.select_shallow``): the genotype of the shallowest
    depth ``d`` of the supernet's depth choice (depth 0, matrix factorisation, in the shipped spaces):
    the pool's own when it holds one of at most ``d`` layers, else the best by one-shot score of
    ``n_samples`` draws from α at depth ``d`` (at depth 0 they differ by width alone; their scores are
    added to ``scores``). ``None`` when depth is not searched. The one-shot score ranks architectures
    of one depth; across depths it follows the depth the shared ego tables were trained for (the
    deepest, where α puts its weight): one-shot MF scored 0.023 validation Recall@20 on LastFM and
    0.284 retrained (BENCHMARKS.md, issue 9 session 10)."""
    choice = next((c for c in model.choices if c.key == "depth" and c.searched), None)
    if choice is None:
        return None
    d = min(int(x) for x in choice.candidates)
    own = [g for g in pool if g.depth <= d and g in scores]
    if own:
        return max(own, key=lambda g: signed(evaluator, scores[g]))
    draws = _dedupe(_canonical(g) for g in sample_genotypes(model, n_samples, seed + 1, depth=d))
    scores.update({g: v for g, v in one_shot_scores(model, draws, evaluator).items() if g not in scores})
    ranked = sorted((g for g in draws if g in scores), key=lambda g: -signed(evaluator, scores[g]))
    return ranked[0] if ranked else None


def baseline_neighbours(base: Genotype, space, n: int, seed: int) -> list:
    """Up to ``n`` distinct genotypes of ``space`` about one edit away from the baseline point ``base``
    (:func:`~darts_gnn.search.evolution.mutate` at a rate of one choice in ``2 + 3 x depth``), in a
    seeded order. Spare candidates of the selection (``search.select_neighbours``): where the one-shot
    proxy misleads (sparse data, where the supernet favours ``sum``), the baseline's neighbourhood is
    a better bet than the proxy's ranking (on the Gowalla subsample the winner ``gcn, gcn_self, last``
    is three edits from LightGCN; BENCHMARKS.md, issue 9 session 8)."""
    rng = random.Random(seed)
    rate = 1.0 / (2 + 3 * max(1, base.depth))
    out, seen = [], {base}
    for _ in range(20 * n):
        if len(out) >= n:
            break
        g = mutate(base, space, rng, rate)
        if g not in seen and space.contains(g):
            seen.add(g)
            out.append(g)
    return out


def _interleave(a: Sequence, b: Sequence) -> list:
    """``a[0], b[0], a[1], b[1], ...`` (the longer one's tail at the end), duplicates dropped."""
    out = [x for pair in zip(a, b) for x in pair] + list(a[len(b):]) + list(b[len(a):])
    return _dedupe(out)


def estimate_baseline_seconds(model_cfg, dataset, graph, train_cfg, epochs: int = 2) -> float:
    """Seconds of one full baseline training, estimated from ``epochs`` timed epochs times
    :data:`ESTIMATED_BASELINE_EPOCHS` (plus one validation per ``eval_every`` epochs)."""
    import dataclasses

    seed_everything(train_cfg.seed)
    net = build_model(model_cfg, dataset, graph)
    tcfg = dataclasses.replace(train_cfg, epochs=epochs, progress=False, eval_every=epochs)
    ev = Evaluator(dataset, ks=tuple(train_cfg.ks), batch_users=train_cfg.eval_batch_users)
    t0 = clock.now()
    Trainer(net, dataset, tcfg, evaluator=ev).fit()
    per_epoch = (clock.now() - t0) / epochs
    return per_epoch * ESTIMATED_BASELINE_EPOCHS


def incumbent_candidate(cfg, dataset, graph, evaluator, baseline: dict | None = None,
                        features: dict | None = None):
    """The incumbent of the selection (``search.select_incumbent``): the config's baseline model with
    the ``train`` section's own recipe (its ``lr`` and ``l2``) and full protocol, as a
    :class:`~darts_gnn.search.select.Candidate` of stage ``incumbent``; ``None`` when switched off or
    when the baseline is not a point of the space. ``baseline``: the ``--compare-baseline`` run (its
    ``best_valid``, ``train_seconds``, ``epochs`` and, for the paired test, ``valid_per_user``, the
    ``[U]`` validation scores of :func:`~darts_gnn.search.select.valid_per_user`), reused instead of
    training it again (not with content ``features``, which that run does not take)."""
    base = baseline_genotype(cfg.model)
    if base is None or not cfg.search.select_incumbent:
        return None
    g = base.with_(recipe=Recipe(lr=float(cfg.train.lr)))
    if baseline is not None and baseline.get("best_valid") and not features:
        return Candidate(g, {k: float(v) for k, v in baseline["best_valid"].items()},
                         float(baseline["train_seconds"]), int(baseline["epochs"]), stage=INCUMBENT,
                         per_user=baseline.get("valid_per_user"), curve=tuple(baseline.get("valid_curve", ())))
    model, res, sec = train_candidate(g, dataset, graph, cfg.train, evaluator, features=features)
    return Candidate(g, {k: float(v) for k, v in res.best_valid.items()}, sec, res.epochs_run, stage=INCUMBENT,
                     per_user=valid_per_user(evaluator, model),
                     curve=valid_curve(res.history, selection_metric(evaluator)[0]))


def reference_and_incumbent(cfg, dataset, graph, evaluator, baseline: dict | None = None,
                            features: dict | None = None):
    """``(reference_seconds, incumbent)``: the budget's unit, one baseline training (the measured
    ``baseline`` run; else ``search.total_budget_seconds / budget_factor``; else the incumbent's own
    training, which is one; else :func:`estimate_baseline_seconds`), and :func:`incumbent_candidate`."""
    inc = incumbent_candidate(cfg, dataset, graph, evaluator, baseline, features)
    s = cfg.search
    if baseline is not None:
        return float(baseline["train_seconds"]), inc
    if s.total_budget_seconds is not None:
        return s.total_budget_seconds / s.budget_factor, inc
    if inc is not None:
        return inc.seconds, inc
    return estimate_baseline_seconds(cfg.model, dataset, graph, cfg.train), inc


#: The incumbent of a run directory and the budget's unit, so that ``--resume`` does not train it again.
INCUMBENT_FILE = "incumbent.pt"


def incumbent_state(reference_seconds: float, inc) -> dict:
    """What :data:`INCUMBENT_FILE` holds (loads with ``weights_only=True``): the budget's unit and the
    incumbent :class:`~darts_gnn.search.select.Candidate` (genotype as JSON, best validation metrics,
    seconds, epochs, the ``[U]`` per-user validation scores of the paired test or ``None``, the
    validation curve of the curve cut)."""
    return {"version": 1, "reference_seconds": float(reference_seconds),
            "genotype": json.dumps(inc.genotype.to_dict()), "valid": {k: float(v) for k, v in inc.valid.items()},
            "seconds": float(inc.seconds), "epochs": int(inc.epochs), "per_user": inc.per_user,
            "curve": [[int(e), float(v)] for e, v in inc.curve]}


def incumbent_from_state(state: dict):
    """``(reference_seconds, incumbent)`` from :func:`incumbent_state`'s dict."""
    if not isinstance(state, dict) or state.get("version") != 1:
        raise ValueError(f"{INCUMBENT_FILE}: not an incumbent record of this version")
    g = Genotype.from_dict(json.loads(state["genotype"]))
    return float(state["reference_seconds"]), Candidate(g, dict(state["valid"]), float(state["seconds"]),
                                                        int(state["epochs"]), stage=INCUMBENT,
                                                        per_user=state["per_user"],
                                                        curve=tuple((int(e), float(v)) for e, v in state.get("curve", ())))


def _spare(ranked: Sequence, pool: Sequence, extra: Sequence, space, s, seed: int) -> list:
    """The selection's spare candidates: the rest of the proxy's ranking interleaved with
    ``search.select_neighbours`` neighbours of the baseline point (``extra``, when it is in the space)."""
    near = baseline_neighbours(extra[0], space, s.select_neighbours, seed) if extra else []
    return _interleave([g for g in ranked if g not in pool], [g for g in near if g not in pool])


def run_selection(model, picks: Sequence, dataset, graph, cfg, evaluator, *, reference_seconds: float,
                  spent_seconds: float, writer=None, log: Callable[[str], None] | None = None,
                  features: dict | None = None, incumbent=None, proxy=None, prior: Sequence = ()):
    """The validated selection stage after a search (module doc). Returns
    ``(SelectionResult, diagnostics dict)``; the diagnostics go to ``metrics.json`` and TensorBoard.

    The selection's budget is ``budget_factor * reference_seconds - spent_seconds`` (or
    ``cfg.search.total_budget_seconds - spent_seconds`` when that is set), less the seconds of the
    ``incumbent`` (:func:`incumbent_candidate`), which count as selection time. ``proxy``: the evaluator
    of the one-shot scores (:func:`proxy_evaluator`; default ``evaluator``). ``prior``: the
    :func:`~darts_gnn.search.select.lead_stage` runs made before the search; their seconds count as
    selection time too."""
    t0 = clock.now()
    s = cfg.search
    seed = s.seed if s.seed is not None else cfg.train.seed
    base = baseline_genotype(cfg.model)
    total = total_seconds(s, reference_seconds)
    ranked, extra, scores = build_pool(model, proxy or evaluator, picks, s.select_samples, seed, base)
    pool = ranked[:s.select_pool] + [g for g in extra if g not in ranked[:s.select_pool]]
    shallow = shallow_cover(model, proxy or evaluator, pool, s.select_samples // 4, seed, scores) \
        if s.select_shallow else None
    # retrained best one-shot first, so that a tight budget drops the least promising
    pool.sort(key=lambda g: -signed(evaluator, scores[g]) if g in scores else math.inf)
    before = (incumbent.seconds if incumbent is not None else 0.0) + sum(c.seconds for c in prior)
    left = max(0.0, total - spent_seconds - before - (clock.now() - t0))
    res = select_genotype(pool, dataset, graph, cfg, evaluator, one_shot=scores,
                          pool_size=len(pool), budget_seconds=left, log=log, features=features,
                          anchors=[base] if base is not None and s.select_recipe_baseline else [],
                          incumbent=incumbent, prior=prior, spare=_spare(ranked, pool, extra, model.space, s, seed),
                          shallow=[shallow] if shallow is not None else [])
    diag: dict[str, Any] = {
        "proxy_spearman": None if math.isnan(res.spearman) else res.spearman,
        "baseline_one_shot": scores.get(base) if base is not None else None,
        "baseline_genotype": base.summary() if base is not None else None,
        "pool_one_shot": {g.summary(): v for g, v in scores.items() if g in pool or g == shallow},
        "shallow": shallow.summary() if shallow is not None else None,
        "budget_seconds": total, "reference_seconds": reference_seconds, "budget_clock": clock.kind(),
        "selection_seconds": clock.now() - t0 + before, "incumbent_seconds": before,
        "warnings": list(res.warnings),
        "selection": res.to_dict(),
    }
    if writer is not None:
        step = len(res.candidates)
        if diag["proxy_spearman"] is not None:
            writer.add_scalar("select/proxy_spearman", diag["proxy_spearman"], step)
        if diag["baseline_one_shot"] is not None:
            writer.add_scalar("select/baseline_one_shot", diag["baseline_one_shot"], step)
        writer.add_scalar("select/winner_valid", res.best.score(res.metric), step)
        writer.add_scalar("select/seconds", res.seconds, step)
    return res, diag
