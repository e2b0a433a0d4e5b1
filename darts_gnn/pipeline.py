r"""Search end to end: data -> supernet search -> genotype -> retrain from scratch -> test.

:func:`run_search` is what ``darts-gnn search`` calls; research code can call it too::

    from darts_gnn.config import load_config
    from darts_gnn.pipeline import run_search
    report = run_search(load_config(None, ["search.epochs=5"]))
    print(report.genotype.summary(), report.test["recall@20"])
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import Config, config_to_dict
from .errors import UserError
from .search.darts import build_darts_searcher as build_searcher
from .search.finish import baseline_run, drop_selection_fields, strategy_report
from .search.strategy import Budget, SearchContext, get_strategy, run_strategy
from .search.select import lead_stage, train_candidate
from .search.selection_budget import total_seconds
from .engine.train import resolve_device
from .engine import clock
from .search.pool import (INCUMBENT_FILE, baseline_genotype, incumbent_from_state, incumbent_state,
                          proxy_evaluator, reference_and_incumbent, run_selection)
from .search.darts import budget_hook
from .data import Graph, load_dataset
from .search.monitor import AlphaLogger, heatmap_figure, write_alphas_csv
from .features import model_features
from .search.checkpoint import attach_checkpointing
from .search.derive import derive_genotype
from .tasks.base import build_task, config_evaluator, task_of

__all__ = ["run_search", "SearchReport", "build_searcher", "retrain", "PrefixedWriter", "prepare",
           "retrain_and_test", "write_search_artifacts"]

log = logging.getLogger("darts_gnn.search")


class PrefixedWriter:
    """Forwards ``add_scalar`` (and ``flush``) to ``writer`` with ``prefix`` on every tag."""

    def __init__(self, writer, prefix: str):
        self.writer, self.prefix = writer, prefix

    def add_scalar(self, tag: str, value, step=None) -> None:
        self.writer.add_scalar(self.prefix + tag, value, step)

    def flush(self) -> None:
        if hasattr(self.writer, "flush"):
            self.writer.flush()


@dataclass
class SearchReport:
    """Everything one search run produced (also written to the run directory)."""
    genotype: Any
    search: Any                                   # SearchResult
    model: Any = None                             # the retrained discrete model (None without retrain)
    test: dict[str, float] = field(default_factory=dict)
    retrain: Any = None                           # TrainResult
    retrain_seconds: float = 0.0
    baseline: dict[str, Any] | None = None        # {"name", "test", "seconds", "epochs", ...}
    metrics: dict[str, Any] = field(default_factory=dict)
    supernet: Any = None                          # the trained SuperNet (α as the search left it)
    argmax: Any = None                            # the argmax genotype (= genotype unless derive != argmax)
    selection: Any = None                         # SelectionResult of the validated selection stage
    diagnostics: dict[str, Any] = field(default_factory=dict)   # proxy diagnostics, budget


def retrain(genotype, dataset, graph, cfg: Config, evaluator=None, writer=None, features: dict | None = None):
    """Build ``genotype``'s model from scratch (seeded with ``train.seed``), train it with its
    recipe (:class:`~darts_gnn.search.recipe.RecipeTrainer`; the ``train`` section's BPR without one;
    early stop on validation) and evaluate it on test. ``features``: the content features the model
    takes (``item_features=`` / ``user_features=``), if any.
    Returns ``(model, TrainResult, test metrics, seconds)``."""
    model, result, seconds = train_candidate(genotype, dataset, graph, cfg.train, evaluator, writer=writer,
                                             features=features)
    test = evaluator.evaluate(model, "test") if evaluator is not None else {}
    return model, result, {k: float(v) for k, v in test.items()}, seconds


def _reference(cfg: Config, dataset, graph, evaluator, base, features, run=None, resume: bool = False):
    """``(reference seconds, incumbent)`` before the search (:func:`reference_and_incumbent`: the
    ``--compare-baseline`` run reused, else the incumbent trained now, or with ``resume`` read back
    from ``run``'s :data:`INCUMBENT_FILE`), logged; kept in ``run``."""
    if resume and base is None and run is not None and run.file(INCUMBENT_FILE).exists():
        try:
            reference, incumbent = incumbent_from_state(run.load_torch(INCUMBENT_FILE))
        except Exception as e:   # a truncated or foreign file: say so instead of a pickle traceback
            raise UserError(f"{run.file(INCUMBENT_FILE)}: the selection's incumbent cannot be read ({e}); "
                            f"delete it to train the incumbent again") from e
        log.info("selection incumbent read back from %s (not trained again)", run.file(INCUMBENT_FILE))
    else:
        reference, incumbent = reference_and_incumbent(cfg, dataset, graph, evaluator, base, features)
        if run is not None and incumbent is not None:
            run.save_torch(INCUMBENT_FILE, incumbent_state(reference, incumbent))
    if incumbent is not None:
        log.info("selection incumbent (the train section's protocol): valid %s, %.1f s: %s",
                 ", ".join(f"{k}={v:.4f}" for k, v in incumbent.valid.items() if k.endswith("@20")),
                 incumbent.seconds, incumbent.genotype.summary())
    return reference, incumbent


def _cap_search(searcher, cfg: Config, reference: float) -> None:
    """Stop the supernet search once it has run ``search.search_factor`` x one baseline training."""
    factor = cfg.search.search_factor
    if factor is None:
        return
    hook = budget_hook(Budget(seconds=factor * reference))

    def capped(s, epoch: int, record: dict) -> bool:
        stop = hook(s, epoch, record)
        if stop and epoch + 1 < s.cfg.epochs:
            log.info("search stopped after epoch %d of %d: %.1f s = search.search_factor (%g) x the baseline "
                     "training (%.1f s)", epoch + 1, s.cfg.epochs, s.seconds, factor, reference)
        return stop
    searcher.hooks.append(capped)


def _strategy_search(ctx: SearchContext, compare_baseline: bool) -> dict:
    """A registered strategy other than DARTS, then :func:`strategy_report`. With the selection on, the
    ``--compare-baseline`` run, the incumbent and the budget's unit come first, as for DARTS, and
    ``search.search_factor`` x that unit caps the strategy's own ``search.budget_seconds``."""
    cfg = ctx.cfg
    if ctx.resume:
        get_strategy(cfg.search.strategy)(ctx)     # refuses --resume before anything is trained
    base = prepared = None
    if cfg.search.select and cfg.search.retrain:
        base = baseline_run(cfg, ctx.dataset, ctx.graph, ctx.evaluator) if compare_baseline else None
        prepared = _reference(cfg, ctx.dataset, ctx.graph, ctx.evaluator, base, None, ctx.run, ctx.resume)
        if cfg.search.search_factor is not None:
            cap = cfg.search.search_factor * prepared[0]
            own = cfg.search.budget_seconds
            ctx = dataclasses.replace(ctx, cfg=dataclasses.replace(cfg, search=dataclasses.replace(
                cfg.search, budget_seconds=cap if own is None else min(own, cap))))
    found = run_strategy(ctx)
    return strategy_report(cfg, found, ctx.dataset, ctx.graph, ctx.evaluator, ctx.run, ctx.writer,
                           compare_baseline, base=base, prepared=prepared)


def _one_shot_evaluator(cfg: Config, evaluator, selecting: bool):
    """The evaluator of the search's one-shot evaluations (:func:`proxy_evaluator`, its choice logged),
    or ``evaluator`` itself when the run makes none (argmax derivation, no selection)."""
    if not selecting and cfg.search.derive == "argmax":
        return evaluator
    return proxy_evaluator(cfg, evaluator, log.info)


def _lead_first(searcher, cfg: Config, dataset, graph, evaluator, reference, incumbent, features) -> list:
    """``search.supernet_objective: lead``: the selection's lead stage (:func:`lead_stage`, the baseline
    point under the recipe grid) before the search, and the supernet trained with the objective of the
    recipe that won there (:meth:`Searcher.set_objective`). Returns the stage's runs (not trained again
    by the selection; their time counts in its budget)."""
    s, base = cfg.search, baseline_genotype(cfg.model)
    if s.supernet_objective != "lead" or not s.select_lead or not s.select_recipe_baseline or base is None:
        return []
    total = total_seconds(s, reference)
    runs, lead = lead_stage([base], dataset, graph, cfg, evaluator, incumbent=incumbent, log=log.info,
                            budget_seconds=total - (incumbent.seconds if incumbent is not None else 0.0),
                            features=features)
    if lead is not None:
        searcher.set_objective(*lead)
    log.info("search.supernet_objective=lead: the supernet trains with %s%s", "BPR" if searcher.objective is None
             else f"{lead[0].loss} (M={lead[0].negatives}, t={lead[0].temperature})",
             " on cosine scores" if searcher.model.out_norm else "")
    return runs


def _select_stage(model, result, dataset, graph, cfg: Config, evaluator, reference, incumbent, writer,
                  features=None, proxy=None, prior=()):
    """Validated selection after the search (:func:`darts_gnn.search.pool.run_selection`) within
    ``budget_factor`` x ``reference`` against the ``incumbent``; logs the proxy diagnostics."""
    picks = [model.genotype(), result.genotype]
    sel, diag = run_selection(model, picks, dataset, graph, cfg, evaluator, reference_seconds=reference,
                              spent_seconds=result.seconds, writer=PrefixedWriter(writer, "") if writer else None,
                              log=log.info, features=features, incumbent=incumbent, proxy=proxy, prior=prior)
    log.info("selection (%d retrained, %.1f s), winner by validation %s:\n%s", len(sel.candidates),
             sel.seconds, sel.metric, sel.table())
    shot = diag["baseline_one_shot"]
    log.info("proxy: Spearman(one-shot, retrained valid) = %s; baseline %s one-shot valid %s = %s",
             "n/a" if diag["proxy_spearman"] is None else f"{diag['proxy_spearman']:+.2f}",
             diag["baseline_genotype"], sel.metric, "n/a" if shot is None else f"{shot:.4f}")
    for w in sel.warnings:
        log.warning("%s", w)
    if writer is not None:
        writer.add_text("selection", "```\n" + sel.table() + "\n```", len(sel.candidates))
    return sel, diag


def prepare(cfg: Config, run=None, dataset=None, graph=None):
    """Threads, device check, data set and training graph (unless given; the task's data preparation
    first), the task's evaluator, TensorBoard writer; writes ``config.yaml`` to ``run``. Returns
    ``(dataset, graph, evaluator, writer)``."""
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    resolve_device(cfg.train.device)  # fail early on a missing GPU
    if dataset is None:
        dataset = load_dataset(cfg.data)
    if graph is None:  # the task's data preparation first (social: only training friendships)
        dataset = build_task(cfg.task).prepare(dataset)
        graph = Graph.from_dataset(dataset, "train")
    log.info("data: %r, graph %r", dataset, graph)
    evaluator = config_evaluator(cfg, dataset)
    writer = run.writer() if run is not None else None
    if run is not None:
        run.write_yaml("config.yaml", config_to_dict(cfg))
    return dataset, graph, evaluator, writer


def _derive(searcher, result, cfg: Config, evaluator, writer) -> list:
    """Replace the argmax genotype by ``search.derive``'s (its time counts as search time); the trace."""
    if cfg.search.derive == "argmax":
        return []
    t0 = clock.now()
    argmax = result.genotype
    result.genotype, trace = derive_genotype(searcher.model, cfg.search.derive, evaluator, log=log.info)
    derive_seconds = clock.now() - t0
    result.seconds += derive_seconds  # part of the search's cost
    log.info("derive=%s: %s (argmax: %s; %.1f s)", cfg.search.derive, result.genotype.summary(),
             argmax.summary(), derive_seconds)
    if writer is not None:
        writer.add_text("genotype_derived", f"`{result.genotype.summary()}` ({cfg.search.derive}; "
                                            f"argmax: `{argmax.summary()}`)", result.epochs_run)
    return trace


def write_search_artifacts(run, cfg: Config, searcher, result, derive_trace: list) -> None:
    """``genotype.json``, ``alphas.csv``, ``alphas.png`` and ``search.json`` of a DARTS search."""
    genotype = result.genotype
    genotype.save(run.file("genotype.json"))
    write_alphas_csv(run.file("alphas.csv"), result.trajectory, searcher.model.choices)
    fig = heatmap_figure({k: list(v.values()) for k, v in result.probabilities.items()},
                         searcher.model.choices, f"final: {genotype.summary()}")
    run.save_figure("alphas.png", fig)
    import matplotlib.pyplot as plt
    plt.close(fig)
    run.write_json("search.json", {"genotype": genotype.to_dict(), "seconds": result.seconds,
                                   "epochs": result.epochs_run, "derive": cfg.search.derive,
                                   "derive_trace": derive_trace, "history": result.history})


def retrain_and_test(report: SearchReport, dataset, graph, cfg: Config, evaluator, writer, features) -> None:
    """Retrain ``report.genotype`` from scratch and test it; fills ``report`` and its metrics."""
    model, tr, test, seconds = retrain(report.genotype, dataset, graph, cfg, evaluator,
                                       PrefixedWriter(writer, "retrain/") if writer is not None else None,
                                       features=features)
    report.model, report.retrain, report.test, report.retrain_seconds = model, tr, test, seconds
    report.metrics.update(test)
    report.metrics.update({"best_valid": {k: float(v) for k, v in tr.best_valid.items()},
                           "best_epoch": tr.best_epoch, "epochs": tr.epochs_run,
                           "seconds_per_epoch": tr.seconds_per_epoch, "retrain_seconds": seconds})
    if writer is not None:
        for k, v in test.items():
            writer.add_scalar(f"test/{k}", v, tr.epochs_run)


def _budget_metrics(report: SearchReport, diag: dict) -> None:
    """Total cost (search + selection + retrain) against the baseline reference, in the metrics."""
    result = report.search
    total = result.seconds + diag["selection_seconds"] + report.retrain_seconds
    diag["total_seconds"] = total
    diag["budget_ratio"] = total / diag["reference_seconds"] if diag["reference_seconds"] else None
    report.metrics["selection"] = diag
    log.info("search %.1f s + selection %.1f s + final retrain %.1f s = %.2fx the baseline reference "
             "(%.1f s)", result.seconds, diag["selection_seconds"], report.retrain_seconds,
             diag["budget_ratio"] or float("nan"), diag["reference_seconds"])


def _darts_searcher(cfg: Config, dataset, graph, evaluator, run, writer, hooks, progress, features, resume):
    """The DARTS searcher with its α logger, and (with ``run``) its checkpointing and guard."""
    logger = AlphaLogger(writer, figure_every=cfg.search.log_every) if writer is not None else None
    searcher = build_searcher(cfg, dataset, graph, evaluator=evaluator, logger=logger, hooks=hooks,
                              progress=progress, features=features)
    log.info("search space:\n%s", searcher.model.space.describe())
    # checkpoints, --resume and the eigenvalue guard (issue 5)
    if run is not None:
        return searcher, attach_checkpointing(searcher, run, cfg, resume=resume)
    if resume:
        raise ValueError("run_search: resume=True needs the run directory (run=...)")
    return searcher, None


def run_search(cfg: Config, run=None, compare_baseline: bool = False, progress: bool | None = None,
               hooks=None, dataset=None, graph=None, resume: bool = False) -> SearchReport:
    """Search, discretise, retrain, test; write the run directory ``run`` (a
    :class:`~darts_gnn.engine.rundir.RunDir`, optional). Files: ``config.yaml``, ``genotype.json``,
    ``alphas.csv``, ``alphas.png``, ``search.json`` (per-epoch history), ``metrics.json`` (test metrics
    of the retrained model, timings, baseline), ``incumbent.pt`` (the selection's incumbent, read back
    on resume), TensorBoard events; ``hooks`` go to the :class:`~darts_gnn.search.Searcher`.

    With ``run``, the search state is checkpointed to ``search_state.pt`` every ``search.checkpoint.every``
    epochs and the eigenvalue guard is attached (:func:`darts_gnn.search.checkpoint.attach_checkpointing`);
    ``resume=True`` continues from ``run``'s checkpoint.

    Every time of the search (budgets, deadlines, the seconds in ``metrics.json``) is read from the
    clock ``search.budget_clock`` names (:mod:`darts_gnn.engine.clock`).
    """
    with clock.counting(cfg.search.budget_clock, cfg.train.device, cfg.train.num_threads):
        return _run_search(cfg, run, compare_baseline, progress, hooks, dataset, graph, resume)


def _run_search(cfg: Config, run, compare_baseline: bool, progress, hooks, dataset, graph, resume: bool) -> SearchReport:
    dataset, graph, evaluator, writer = prepare(cfg, run, dataset, graph)
    if cfg.search.strategy != "darts":  # issue 8: another registered strategy, then retrain and test
        ctx = SearchContext(cfg, dataset, graph, evaluator, run, writer, bool(progress), list(hooks or []), resume)
        return SearchReport(**_strategy_search(ctx, compare_baseline))
    features = model_features(cfg, dataset)
    searcher, ckpt = _darts_searcher(cfg, dataset, graph, evaluator, run, writer, hooks, progress, features, resume)
    base, selecting = None, cfg.search.select and cfg.search.retrain
    if compare_baseline:   # first, so that its wall time is the selection's budget reference
        base = baseline_run(cfg, dataset, graph, evaluator,
                            PrefixedWriter(writer, f"baseline_{cfg.model.name}/") if writer is not None else None)
    if selecting:          # the budget's unit and the incumbent, before the search (which they cap)
        reference, incumbent = _reference(cfg, dataset, graph, evaluator, base, features, run, resume)
        prior = _lead_first(searcher, cfg, dataset, graph, evaluator, reference, incumbent, features)
        _cap_search(searcher, cfg, reference)
    if base is not None:
        drop_selection_fields(base)
    with ckpt.guard_errors() if ckpt is not None else contextlib.nullcontext():
        result = searcher.run()
    derive_trace = _derive(searcher, result, cfg, proxy := _one_shot_evaluator(cfg, evaluator, selecting), writer)
    selection, diag = None, {}
    if selecting:
        selection, diag = _select_stage(searcher.model, result, dataset, graph, cfg, evaluator, reference,
                                        incumbent, writer, features, proxy, prior)
        result.genotype = selection.winner
    genotype = result.genotype
    log.info("found %s (%.1f s, %d epochs)", genotype.summary(), result.seconds, result.epochs_run)
    if run is not None:
        write_search_artifacts(run, cfg, searcher, result, derive_trace)
    report = SearchReport(genotype=genotype, search=result, supernet=searcher.model,
                          argmax=searcher.model.genotype(), selection=selection, diagnostics=diag)
    report.metrics = {"model": f"genotype:{genotype.summary()}", "genotype": genotype.to_dict(),
                      "search_seconds": result.seconds, "search_epochs": result.epochs_run,
                      "search_seconds_per_epoch": result.seconds / max(1, len(result.history))}
    if cfg.search.retrain:
        retrain_and_test(report, dataset, graph, cfg, evaluator, writer, features)
    if diag:
        _budget_metrics(report, diag)
    if base is not None:
        report.baseline = report.metrics["baseline"] = base
    report.metrics["dataset"] = dataset.stats()
    if task_of(evaluator) is not None:
        report.metrics["task"] = task_of(evaluator).summary()      # e.g. the decoder the search chose
    if run is not None:
        run.write_json("metrics.json", report.metrics)
        if writer is not None:
            writer.flush()
    return report
