r"""An honest comparison: DARTS (each relaxation), random search at equal budget, LightGCN and MF.

Every method ends the same way: one model, trained from scratch with the config's ``train`` section
(BPR, Adam, early stop on validation Recall@20, the same seed), then evaluated once on test. What
differs is only how the architecture was chosen:

==================  ===========================================================================
method              architecture
==================  ===========================================================================
``darts-softmax``   DARTS search (``search`` section) with the softmax relaxation
``darts-gumbel``    ... with the Gumbel-softmax relaxation (GDAS-style, hard one-hot forward)
``darts-sigmoid``   ... with the sigmoid relaxation and zero-one loss (FairDARTS-style)
``random``          random search in the same space (:mod:`darts_gnn.search.random_search`)
``evolution``       regularized evolution (:mod:`darts_gnn.search.evolution`)
``rl``              REINFORCE (:mod:`darts_gnn.search.rl`)
``lightgcn``        LightGCN with the ``model`` section's dim and layers
``mf``              matrix factorisation (same dim)
==================  ===========================================================================

Any registered strategy (``search.strategy`` names), ``<strategy>-<relaxation>`` or registered model
is a method; all strategies run through :func:`darts_gnn.search.strategy.run_strategy`. Equal budget:
the strategies other than DARTS get the mean DARTS search time of the same seed as
``search.budget_seconds`` (or ``random_budget_seconds``), picked on validation Recall@20; both are
counted on the budget clock (``search.budget_clock``, :mod:`darts_gnn.engine.clock`).

For each seed ``s`` (``train.seed = search.seed = s``; the data split keeps ``data.seed``) every
method runs once. The report gives mean ± std over seeds of test Recall@20 / NDCG@20, the search
time and the retrain time (on the budget clock; each row also keeps its wall time), plus every run's
genotype and, for the DARTS runs, a summary of the α trajectory (per choice: the winner, its final
weight, the epoch since which it has led, the entropy at the start and the end). Results are written
after every run, so an interrupted comparison keeps what it finished and ``resume=True`` skips those
runs.

Use from Python::

    from darts_gnn.config import load_config
    from darts_gnn.experiments.compare import run_compare, markdown_report
    report = run_compare(load_config("configs/search_ml100k.yaml"), seeds=[0, 1, 2])
    print(markdown_report(report))
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .. import registries
from ..config import Config, config_to_dict
from ..errors import UserError
from ..space.genotype import Genotype
from ..nn.models import build_model
from ..search.finish import retrain_genotype
from ..search.strategy import SearchContext, run_strategy
from ..space.registry import SearchSpace
from ..engine.train import resolve_device
from ..engine.trial import fit_and_evaluate
from ..engine import clock
from ..tasks.base import build_task, task_of

__all__ = ["METHODS", "DARTS_METHODS", "method_kind", "equal_budget", "run_compare", "summarize", "markdown_report",
           "trajectory_summary", "seed_config"]

log = logging.getLogger("darts_gnn.experiments.compare")

DARTS_METHODS = ("darts-softmax", "darts-gumbel", "darts-sigmoid")
METHODS = DARTS_METHODS + ("random", "lightgcn", "mf")
METRICS = ("recall@20", "ndcg@20")
#: the reported test metrics and their column labels, per task (``ranking`` when not listed)
TASK_METRICS = {"ranking": (METRICS, ("Recall@20", "NDCG@20")), "rating": (("rmse", "mae"), ("RMSE", "MAE"))}


def report_metrics(report: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(metric keys, column labels)`` of a report, by its config's task."""
    task = ((report.get("config") or {}).get("task") or {}).get("name", "ranking")
    return TASK_METRICS.get(task, TASK_METRICS["ranking"])
REPORT_VERSION = 1


def seed_config(cfg: Config, seed: int) -> Config:
    """``cfg`` with ``train.seed`` and ``search.seed`` set to ``seed`` (the data split is unchanged)."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=int(seed)),
                               search=dataclasses.replace(cfg.search, seed=int(seed)))


def _entropy(p: Sequence[float]) -> float:
    s = sum(p)
    if s <= 0:
        return 0.0
    return -sum((x / s) * math.log(x / s) for x in p if x > 0)


def trajectory_summary(trajectory: list[dict], candidates: dict[str, Sequence]) -> dict[str, dict]:
    """Per choice: ``winner`` (final argmax), ``weight`` (its final weight), ``since`` (first epoch
    from which the winner stayed the argmax), ``switches`` (how often the argmax changed),
    ``entropy_start`` / ``entropy_end`` (of the normalised weights; the maximum is ``log K``)."""
    out: dict[str, dict] = {}
    if not trajectory:
        return out
    keys = list(trajectory[-1]["weights"])
    for key in keys:
        names = [str(c) for c in candidates.get(key, range(len(trajectory[-1]["weights"][key])))]
        series = [(snap["epoch"], snap["weights"][key]) for snap in trajectory if key in snap["weights"]]
        arg = [max(range(len(w)), key=lambda i: w[i]) for _, w in series]
        final = arg[-1]
        since_idx = len(arg) - 1
        while since_idx > 0 and arg[since_idx - 1] == final:
            since_idx -= 1
        w_end = series[-1][1]
        out[key] = {
            "winner": names[final],
            "weight": float(w_end[final]),
            "weight_share": float(w_end[final] / sum(w_end)) if sum(w_end) > 0 else float("nan"),
            "since": int(series[since_idx][0]),
            "switches": int(sum(a != b for a, b in zip(arg, arg[1:]))),
            "entropy_start": _entropy(series[0][1]),
            "entropy_end": _entropy(w_end),
            "max_entropy": math.log(len(w_end)) if len(w_end) > 1 else 0.0,
        }
    return out


# --------------------------------------------------------------------------- one run per method

def _method_config(method: str, cfg: Config) -> tuple[str, Config]:
    """``("strategy", cfg)`` for a registered strategy (``random``, ``evolution``, ...) or a strategy
    with a relaxation (``darts-gumbel``), ``("model", cfg)`` for a registered model (``lightgcn``)."""
    name, _, relax = method.partition("-")
    if method in registries.STRATEGIES or (name in registries.STRATEGIES and relax in registries.RELAXATIONS):
        search = dataclasses.replace(cfg.search, strategy=name, retrain=True,
                                     **({"relaxation": relax} if relax else {}))
        return "strategy", dataclasses.replace(cfg, search=search)
    if method in registries.MODELS:
        return "model", dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name=method))
    raise ValueError(f"unknown method {method!r}; use a registered strategy ({', '.join(registries.STRATEGIES)}), "
                     f"<strategy>-<relaxation> ({', '.join(registries.RELAXATIONS)}) or a registered model "
                     f"({', '.join(registries.MODELS)})")


def method_kind(method: str) -> str:
    """``"strategy"`` or ``"model"``; ``ValueError`` naming the allowed forms for anything else."""
    return _method_config(method, Config())[0]


def _trial_row(out) -> dict:
    return {"test": out.metrics["test"], "retrain_seconds": out.seconds, "retrain_epochs": out.epochs,
            "best_epoch": out.train.best_epoch, "best_valid": dict(out.train.best_valid)}


def _run_strategy(cfg: Config, dataset, graph, evaluator, progress: bool) -> dict:
    """Search with ``cfg.search.strategy``, then retrain the genotype from scratch and test it."""
    found = run_strategy(SearchContext(cfg, dataset, graph, evaluator, progress=progress))
    row = {**_trial_row(retrain_genotype(found.genotype, dataset, graph, cfg, evaluator)),
           "strategy": cfg.search.strategy, "search_seconds": found.seconds, "search_epochs": found.epochs,
           "budget_seconds": cfg.search.budget_seconds, "budget_epochs": cfg.search.budget_epochs,
           "genotype": found.genotype.to_dict(), "summary": found.genotype.summary(),
           "candidates": [g.summary() for g in found.candidates[:10]]}
    x = found.extra
    if "trajectory" in x:  # DARTS: the α trajectory and its summary
        cands = {ch.key: ch.candidates for ch in SearchSpace.for_run(cfg).searched_choices()}
        row.update({"derive": x.get("derive", "argmax"), "stopped_early": x.get("stopped_early", False),
                    "argmax_summary": Genotype.from_dict(x["argmax"]).summary() if x.get("argmax") else "",
                    "alpha": trajectory_summary(x["trajectory"], cands), "trajectory": x["trajectory"],
                    "eigenvalues": [[h["epoch"], h["hessian/eigenvalue"]] for h in found.history
                                    if "hessian/eigenvalue" in h]})
    else:  # candidate-training strategies: every scored candidate
        row["trials"] = [{k: t[k] for k in ("summary", "valid", "epochs", "seconds") if k in t}
                         for t in found.history]
    return row


def _run_baseline(cfg: Config, dataset, graph, evaluator) -> dict:
    mcfg = cfg.model
    out = fit_and_evaluate(lambda: build_model(mcfg, dataset, graph), dataset, cfg.train, evaluator,
                           graph=graph, splits=("test",),   # a fresh task: no searched choice leaks in
                           task=build_task(cfg.task) if task_of(evaluator) is not None else None)
    return {**_trial_row(out), "search_seconds": 0.0, "search_epochs": 0,
            "summary": f"{mcfg.name} (dim {mcfg.dim}" + (f", {mcfg.n_layers} layers)" if mcfg.name != "mf" else ")")}


def equal_budget(cfg: Config, seconds: float | None, epochs: int | None) -> Config:
    """``cfg`` with the search budget set (``None``: unchanged); evolution and REINFORCE then run
    until it is spent instead of for a fixed number of cycles / episodes."""
    if seconds is None and epochs is None:
        return cfg
    s = dataclasses.replace(cfg.search, budget_seconds=seconds, budget_epochs=epochs,
                            evolution=dataclasses.replace(cfg.search.evolution, cycles=None),
                            rl=dataclasses.replace(cfg.search.rl, episodes=None))
    return dataclasses.replace(cfg, search=s)


def _run_method(method: str, scfg: Config, dataset, graph, evaluator, progress: bool,
                darts_seconds: list[float], random_samples: int, budget_seconds: float | None) -> dict:
    """One method for one seed. DARTS runs with its own settings and sets the budget of the other
    strategies: ``budget_seconds`` when given, else the mean DARTS search time of the seed so far
    (or, without DARTS, ``max(search.epochs, random_samples)`` trained epochs for random search)."""
    kind, mcfg = _method_config(method, scfg)
    if kind == "model":
        return _run_baseline(mcfg, dataset, graph, evaluator)
    mcfg = dataclasses.replace(mcfg, search=dataclasses.replace(
        mcfg.search, random=dataclasses.replace(mcfg.search.random, samples=random_samples)))
    if mcfg.search.strategy != "darts" and mcfg.search.budget_seconds is None and mcfg.search.budget_epochs is None:
        seconds = budget_seconds if budget_seconds is not None else (
            statistics.fmean(darts_seconds) if darts_seconds else None)
        epochs = None if seconds is not None or mcfg.search.strategy != "random" else \
            max(mcfg.search.epochs, random_samples)
        mcfg = equal_budget(mcfg, seconds, epochs)
    return _run_strategy(mcfg, dataset, graph, evaluator, progress)


# --------------------------------------------------------------------------- the whole comparison

def summarize(rows: list[dict], methods: Sequence[str] = METHODS,
              metrics: Sequence[str] = METRICS) -> dict[str, dict]:
    """Mean and (sample) standard deviation over seeds, per method, of the test ``metrics`` and times."""
    out: dict[str, dict] = {}
    for m in methods:
        rs = [r for r in rows if r["method"] == m and "error" not in r]
        if not rs:
            continue
        stats: dict[str, Any] = {"n": len(rs), "seeds": [r["seed"] for r in rs]}
        for key, get in [(k, (lambda r, k=k: r["test"][k])) for k in metrics] + [
                ("search_seconds", lambda r: r.get("search_seconds", 0.0)),
                ("search_epochs", lambda r: r.get("search_epochs", 0)),
                ("retrain_seconds", lambda r: r["retrain_seconds"])]:
            vals = [float(get(r)) for r in rs]
            stats[key] = {"mean": statistics.fmean(vals),
                          "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "values": vals}
        out[m] = stats
    return out


def _finished_rows(run, config: dict) -> dict[tuple[str, int], dict]:
    """``{(method, seed): row}`` of the runs already in ``run``'s ``compare.json`` (same settings)."""
    if run is None or not run.file("compare.json").is_file():
        return {}
    old = json.loads(run.file("compare.json").read_text())
    if old.get("config") != config:
        raise UserError(f"{run.file('compare.json')}: written with other settings; use another --out "
                        f"or run without --resume")
    return {(r["method"], int(r["seed"])): r for r in old.get("rows", []) if "error" not in r}


def _prepare(cfg: Config, seeds: Sequence[int], methods: Sequence[str], dataset, graph):
    """Check methods and seeds (before anything runs), make sure Recall@20 is computed, set the threads
    and check the device; ``(cfg, dataset, graph, evaluator)``."""
    for m in methods:
        _method_config(m, cfg)  # ValueError for an unknown method
    if not seeds:
        raise ValueError("run_compare: give at least one seed")
    if 20 not in cfg.train.ks:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, ks=sorted({*cfg.train.ks, 20})))
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    resolve_device(cfg.train.device)
    base = SearchContext.from_config(cfg, dataset, graph)
    return cfg, base.dataset, base.graph, base.evaluator


def _timed_row(method: str, seed: int, scfg: Config, dataset, graph, evaluator, progress: bool,
               darts_seconds: list[float], random_samples: int, budget_seconds: float | None) -> dict:
    """The report row of one method and seed (:func:`_run_method`, timed and logged)."""
    log.info("compare: %s, seed %d", method, seed)
    t0 = time.perf_counter()
    with clock.counting(scfg.search.budget_clock, scfg.train.device, scfg.train.num_threads):   # search and retrain seconds
        out = _run_method(method, scfg, dataset, graph, evaluator, progress, darts_seconds, random_samples,
                          budget_seconds)
    row = {"method": method, "seed": int(seed), **out, "wall_seconds": time.perf_counter() - t0}
    metrics = report_metrics({"config": config_to_dict(scfg)})[0]
    log.info("compare: %s seed %d -> %s (%s)", method, seed,
             " ".join(f"{k} {row['test'][k]:.4f}" for k in metrics), row.get("summary", ""))
    return row


def run_compare(cfg: Config, seeds: Sequence[int], methods: Sequence[str] = METHODS, random_samples: int = 8,
                random_budget_seconds: float | None = None, run=None, dataset=None, graph=None,
                resume: bool = False, progress: bool = False,
                on_row: Callable[[dict], None] | None = None) -> dict:
    """Run every method for every seed; return (and, with ``run``, write) the report.

    Args:
        cfg: the :class:`~darts_gnn.config.Config` (data, ``train`` = the retrain protocol for every
            method, ``search`` = the DARTS settings and the random-search space, ``model`` = dim and
            layers of the LightGCN and MF baselines).
        seeds: the seeds; each sets ``train.seed`` and ``search.seed``.
        methods: method names (module docstring; default :data:`METHODS`), run in that order per seed
            (DARTS first: the other strategies take their mean search time as their budget).
        random_samples: genotypes random search tries.
        random_budget_seconds: a fixed budget (budget-clock seconds) for the non-DARTS strategies instead of the DARTS mean;
            when no DARTS method runs and this is ``None``, random search gets ``search.epochs``
            training epochs in total.
        run: a :class:`~darts_gnn.engine.rundir.RunDir` for ``compare.json`` / ``compare.md`` (rewritten after
            every run).
        resume: with ``run``, keep the runs already in its ``compare.json`` (same settings) and skip them.
        on_row: called with each finished row.

    Returns ``{"version", "config", "seeds", "methods", "rows", "summary", "dataset"}``; each row has
    ``method, seed, test {recall@20, ndcg@20, ...}, search_seconds, retrain_seconds, summary`` and more.
    """
    cfg, dataset, graph, evaluator = _prepare(cfg, seeds, methods, dataset, graph)
    report: dict[str, Any] = {"version": REPORT_VERSION, "config": config_to_dict(cfg), "seeds": list(seeds),
                              "methods": list(methods), "random_samples": random_samples,
                              "random_budget_seconds": random_budget_seconds, "rows": [],
                              "dataset": dataset.stats() if hasattr(dataset, "stats") else {}}
    done = _finished_rows(run, report["config"]) if resume else {}

    def save() -> None:
        report["summary"] = summarize(report["rows"], methods, report_metrics(report)[0])
        if run is not None:
            run.write_json("compare.json", report)
            run.write_text("compare.md", markdown_report(report))

    for seed in seeds:
        scfg = seed_config(cfg, seed)
        darts_seconds: list[float] = []
        for method in methods:
            row = done.get((method, int(seed)))
            if row is not None:
                log.info("compare: %s seed %d already done (resume)", method, seed)
            else:
                row = _timed_row(method, seed, scfg, dataset, graph, evaluator, progress, darts_seconds,
                                 random_samples, random_budget_seconds)
            if row.get("strategy") == "darts":
                darts_seconds.append(float(row["search_seconds"]))
            report["rows"].append(row)
            save()
            if on_row is not None:
                on_row(row)
    save()
    return report


# --------------------------------------------------------------------------- text

def _cell(text: str) -> str:
    """Text for a markdown table cell (a ``|`` would end the cell, even inside backticks)."""
    return str(text).replace("|", "\\|")


def _ms(stat: dict | None, digits: int = 4) -> str:
    if not stat:
        return "-"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def markdown_report(report: dict) -> str:
    """The comparison as markdown: the main table, every run's genotype, and α summaries."""
    (m1, m2), (l1, l2) = report_metrics(report)
    summary = report.get("summary") or summarize(report["rows"], report.get("methods", METHODS), (m1, m2))
    n_seeds = len(report.get("seeds", []))
    lines = [f"| method | {l1} | {l2} | search s | search epochs | retrain s | runs |",
             "|---|---|---|---|---|---|---|"]
    for m in report.get("methods", METHODS):
        s = summary.get(m)
        if s is None:
            continue
        lines.append(f"| {m} | {_ms(s[m1])} | {_ms(s[m2])} | "
                     f"{_ms(s['search_seconds'], 1)} | {_ms(s.get('search_epochs'), 1)} | "
                     f"{_ms(s['retrain_seconds'], 1)} | {s['n']}/{n_seeds} |")
    protocol = ("full ranking, train/valid items masked" if m1 == "recall@20" else
                "every rated pair, predictions clipped to the rating scale")
    lines += ["", f"mean ± sample std over seeds; test split, {protocol}; "
              "every model retrained from scratch under the same protocol. Search epochs: supernet "
              "epochs + candidate-training epochs.", "",
              f"| method | seed | {l1} | {l2} | search s (epochs) | retrain s (epochs) | architecture |",
              "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        if "error" in r:
            continue
        lines.append(f"| {r['method']} | {r['seed']} | {r['test'][m1]:.4f} | "
                     f"{r['test'][m2]:.4f} | {r.get('search_seconds', 0.0):.1f} ({r.get('search_epochs', '-')}) | "
                     f"{r['retrain_seconds']:.1f} ({r.get('retrain_epochs', '-')}) | "
                     f"`{_cell(r.get('summary', ''))}` |")
    darts = [r for r in report["rows"] if r.get("alpha")]
    if darts:
        lines += ["", "α at the end of each DARTS search: per choice the winner, its weight (share of "
                  "the row), the epoch since which it has led, and the entropy of the row start → end "
                  "(max log K). The genotype is derived from α by `search.derive` (argmax of α, or "
                  "greedy by the supernet's validation Recall).", ""]
        for r in darts:
            derived = ""
            if r.get("derive", "argmax") != "argmax":
                derived = f" (derive={r['derive']}; argmax of α: `{r.get('argmax_summary', '?')}`)"
            lines.append(f"- **{r['method']}, seed {r['seed']}**{derived}: " + "; ".join(
                f"{k}: {a['winner']} {a['weight_share']:.2f} (since {a['since']}, "
                f"H {a['entropy_start']:.2f}→{a['entropy_end']:.2f}/{a['max_entropy']:.2f})"
                for k, a in r["alpha"].items()))
    return "\n".join(lines) + "\n"
