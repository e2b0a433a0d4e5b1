"""After any search strategy: write its result, retrain the genotype from scratch, test, report.

:func:`strategy_report` is what :func:`darts_gnn.pipeline.run_search` does for a strategy other than
DARTS (``search.strategy: random | evolution | rl | <registered>``): ``genotype.json``, ``search.json``
(the :class:`~darts_gnn.search.strategy.StrategyResult`), the validated selection over the strategy's
ranked candidates (``search.select``, :func:`select_after_strategy`), the retrain with the ``train``
section (seed -> build -> fit -> test, :func:`darts_gnn.engine.trial.fit_and_evaluate`), the optional
baseline model and ``metrics.json``.
"""
from __future__ import annotations

from typing import Any

from ..config import Config
from ..nn.models import build_model
from ..engine.trial import fit_and_evaluate
from ..tasks.base import task_of
from .strategy import StrategyResult
from ..space.genotype import Genotype
from .pool import baseline_genotype, reference_and_incumbent
from .select import select_genotype, selection_metric, train_candidate, valid_curve, valid_per_user
from .selection_budget import total_seconds
from ..engine import clock

__all__ = ["strategy_report", "retrain_genotype", "select_after_strategy", "baseline_run", "drop_selection_fields"]


def _strategy_scores(found: StrategyResult) -> dict:
    """``{genotype: the strategy's own validation score}`` from its history records (when it keeps them)."""
    out = {}
    for r in found.history:
        if isinstance(r, dict) and "genotype" in r and "score" in r:
            try:
                out.setdefault(Genotype.from_dict(r["genotype"]), float(r["score"]))
            except (TypeError, ValueError):
                continue
    return out


def select_after_strategy(cfg: Config, found: StrategyResult, dataset, graph, evaluator,
                          baseline: dict | None = None, log=None, prepared: tuple | None = None):
    """The validated selection stage (:func:`darts_gnn.search.select.select_genotype`) after a
    strategy other than DARTS: the pool is the strategy's ``search.select_pool`` best candidates plus
    the config's baseline point of the space (LightGCN), each retrained with the short complete
    protocol, the winner by validation only, against the incumbent (the baseline under the ``train``
    section: ``baseline``, the ``--compare-baseline`` run, reused, or trained here;
    :func:`~darts_gnn.search.pool.reference_and_incumbent`). The budget is
    ``search.total_budget_seconds`` (or ``budget_factor`` x one baseline training) minus the
    strategy's and the incumbent's seconds. Returns ``(winner, SelectionResult, diagnostics)``; the
    diagnostics' ``proxy_spearman`` compares the strategy's short-training scores with the retrained ones.
    ``prepared``: ``(reference_seconds, incumbent)`` settled before the strategy ran (not trained here)."""
    import math

    s = cfg.search
    reference_seconds, incumbent = prepared or reference_and_incumbent(cfg, dataset, graph, evaluator, baseline)
    t0 = clock.now()
    before = incumbent.seconds if incumbent is not None else 0.0
    total = total_seconds(s, reference_seconds)
    pool = list(found.candidates[:s.select_pool])
    base = baseline_genotype(cfg.model)
    if base is not None and base not in pool:
        pool.append(base)
    scores = _strategy_scores(found)
    left = max(0.0, total - found.seconds - before - (clock.now() - t0))
    res = select_genotype(pool, dataset, graph, cfg, evaluator, one_shot={g: v for g, v in scores.items() if g in pool},
                          pool_size=len(pool), budget_seconds=left, log=log,
                          anchors=[base] if base is not None and s.select_recipe_baseline else [],
                          incumbent=incumbent, spare=[g for g in found.candidates if g not in pool])
    diag = {"proxy_spearman": None if math.isnan(res.spearman) else res.spearman,
            "baseline_genotype": base.summary() if base is not None else None,
            "budget_seconds": total, "reference_seconds": reference_seconds, "budget_clock": clock.kind(),
            "selection_seconds": clock.now() - t0 + before, "incumbent_seconds": before,
            "warnings": list(res.warnings),
            "selection": res.to_dict()}
    return res.winner, res, diag


def baseline_run(cfg: Config, dataset, graph, evaluator, writer=None) -> dict[str, Any]:
    """The config's model (``model.name``) trained and tested under the ``train`` section (and task),
    as ``--compare-baseline`` reports it after any strategy: ``name``, ``test``, ``train_seconds`` (the
    fit's wall time, validation included: the selection budget's unit), ``epochs``, ``best_epoch``,
    ``seconds_per_epoch``, ``best_valid``, ``valid_per_user`` (the ``[U]`` validation scores of the
    paired test) and ``valid_curve`` (the curve cut's reference; these two not for ``metrics.json``)."""
    trial = fit_and_evaluate(lambda: build_model(cfg.model, dataset, graph), dataset, cfg.train, evaluator,
                             graph=graph, splits=("test",), writer=writer, task=task_of(evaluator))
    result = trial.train
    return {"name": cfg.model.name, "test": trial.metrics["test"], "train_seconds": trial.fit_seconds,
            "epochs": result.epochs_run, "best_epoch": result.best_epoch,
            "seconds_per_epoch": result.seconds_per_epoch,
            "best_valid": {k: float(v) for k, v in result.best_valid.items()},
            "valid_per_user": valid_per_user(evaluator, trial.model),
            "valid_curve": valid_curve(result.history, selection_metric(evaluator)[0])}


def drop_selection_fields(base: dict) -> None:
    """Remove from a :func:`baseline_run` dict what only the selection reads (``valid_per_user``,
    ``valid_curve``), once it has read them, so that the rest can go to ``metrics.json``."""
    base.pop("valid_per_user", None)
    base.pop("valid_curve", None)


def retrain_genotype(genotype, dataset, graph, cfg: Config, evaluator, writer=None):
    """Retrain ``genotype`` from scratch under ``cfg.train`` and test it: a
    :class:`~darts_gnn.engine.trial.TrialResult` (``metrics["test"]``, ``seconds``, ``train``)."""
    return fit_and_evaluate(lambda: genotype.build_model(dataset, graph), dataset, cfg.train, evaluator,
                            graph=graph, splits=("test",), writer=writer, task=task_of(evaluator))


def strategy_report(cfg: Config, found: StrategyResult, dataset, graph, evaluator, run=None, writer=None,
                    compare_baseline: bool = False, base: dict | None = None,
                    prepared: tuple | None = None) -> dict[str, Any]:
    """The fields of a :class:`~darts_gnn.pipeline.SearchReport` for ``found`` (see the module doc).
    ``base`` (:func:`baseline_run`) and ``prepared`` (``(reference_seconds, incumbent)``): settled
    before the strategy ran (:func:`darts_gnn.pipeline.run_search`), else made here."""
    genotype = found.genotype
    if compare_baseline and base is None:    # its wall time is the selection's budget reference
        base = baseline_run(cfg, dataset, graph, evaluator)
    selection, diag = None, {}
    if cfg.search.select and cfg.search.retrain:
        genotype, selection, diag = select_after_strategy(cfg, found, dataset, graph, evaluator, base,
                                                          prepared=prepared)
    if base is not None:
        drop_selection_fields(base)
    metrics: dict[str, Any] = {"model": f"genotype:{genotype.summary()}", "genotype": genotype.to_dict(),
                               "strategy": cfg.search.strategy, "search_seconds": found.seconds,
                               "search_epochs": found.epochs}
    out: dict[str, Any] = {"genotype": genotype, "search": found, "selection": selection, "diagnostics": diag}
    if diag:
        metrics["selection"] = diag
    if run is not None:
        genotype.save(run.file("genotype.json"))
        run.write_json("search.json", found.to_dict())
    if cfg.search.retrain:  # with the winner's recipe (lr / L2 / objective), as after a DARTS search
        model, tr, seconds = train_candidate(genotype, dataset, graph, cfg.train, evaluator)
        test = {k: float(v) for k, v in evaluator.evaluate(model, "test").items()}
        out.update(model=model, retrain=tr, test=test, retrain_seconds=seconds)
        metrics.update(test)
        metrics.update({"best_valid": dict(tr.best_valid), "best_epoch": tr.best_epoch,
                        "epochs": tr.epochs_run, "retrain_seconds": seconds})
    if base is not None:
        out["baseline"] = metrics["baseline"] = base
    metrics["dataset"] = dataset.stats()
    if task_of(evaluator) is not None:
        metrics["task"] = task_of(evaluator).summary()
    out["metrics"] = metrics
    if run is not None:
        run.write_json("metrics.json", metrics)
    return out
