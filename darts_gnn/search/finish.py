"""After any search strategy: write its result, retrain the genotype from scratch, test, report.

:func:`strategy_report` is what :func:`darts_gnn.search.run_search` does for a strategy other than
DARTS (``search.strategy: random | evolution | rl | <registered>``): ``genotype.json``, ``search.json``
(the :class:`~darts_gnn.search.strategy.StrategyResult`), the retrain with the ``train`` section (seed
-> build -> fit -> test, :func:`darts_gnn.trial.fit_and_evaluate`), the optional baseline model and
``metrics.json``.
"""
from __future__ import annotations

from typing import Any

from ..config import Config
from ..models import build_model
from ..trial import fit_and_evaluate
from .strategy import StrategyResult

__all__ = ["strategy_report", "retrain_genotype"]


def retrain_genotype(genotype, dataset, graph, cfg: Config, evaluator, writer=None):
    """Retrain ``genotype`` from scratch under ``cfg.train`` and test it: a
    :class:`~darts_gnn.trial.TrialResult` (``metrics["test"]``, ``seconds``, ``train``)."""
    return fit_and_evaluate(lambda: genotype.build_model(dataset, graph), dataset, cfg.train, evaluator,
                            graph=graph, splits=("test",), writer=writer)


def strategy_report(cfg: Config, found: StrategyResult, dataset, graph, evaluator, run=None, writer=None,
                    compare_baseline: bool = False) -> dict[str, Any]:
    """The fields of a :class:`~darts_gnn.search.SearchReport` for ``found`` (see the module doc)."""
    genotype = found.genotype
    metrics: dict[str, Any] = {"model": f"genotype:{genotype.summary()}", "genotype": genotype.to_dict(),
                               "strategy": cfg.search.strategy, "search_seconds": found.seconds,
                               "search_epochs": found.epochs}
    out: dict[str, Any] = {"genotype": genotype, "search": found}
    if run is not None:
        genotype.save(run.file("genotype.json"))
        run.write_json("search.json", found.to_dict())
    if cfg.search.retrain:
        tr = retrain_genotype(genotype, dataset, graph, cfg, evaluator)
        out.update(model=tr.model, retrain=tr.train, test=tr.metrics["test"], retrain_seconds=tr.seconds)
        metrics.update(tr.metrics["test"])
        metrics.update({"best_valid": dict(tr.train.best_valid), "best_epoch": tr.train.best_epoch,
                        "epochs": tr.epochs, "retrain_seconds": tr.seconds})
    if compare_baseline:
        b = fit_and_evaluate(lambda: build_model(cfg.model, dataset, graph), dataset, cfg.train, evaluator,
                             graph=graph, splits=("test",))
        out["baseline"] = metrics["baseline"] = {"name": cfg.model.name, "test": b.metrics["test"],
                                                 "train_seconds": b.seconds, "epochs": b.epochs,
                                                 "best_epoch": b.train.best_epoch}
    metrics["dataset"] = dataset.stats()
    out["metrics"] = metrics
    if run is not None:
        run.write_json("metrics.json", metrics)
    return out
