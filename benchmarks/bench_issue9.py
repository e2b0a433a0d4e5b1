"""Issue 9 acceptance: the search vs LightGCN (paper settings) vs LightGCN tuned at equal budget.

Per data set and seed, side by side in one process, every method chosen on validation only:

1. ``lightgcn``: LightGCN with the config's full ``train`` protocol (the LightGCN paper's lr 1e-3,
   L2 1e-4); its wall time ``T`` is the budget reference, the equal budget is ``B = budget_factor x T``.
2. ``darts``: ``run_search`` with the shipped config (search, validated selection with the recipe
   grid, final retrain of the winner).
3. ``tuned``: LightGCN with an lr x L2 grid (:mod:`darts_gnn.search.tune`), same short protocol and
   budget accounting, within ``B``; the winner retrained with the full protocol.
4. ``random`` (``--random-seeds``): uniform genotypes of the same space plus the LightGCN point, the
   same selection stage and recipe grid, within ``B``.
5. ``evolution`` (``--evo-seeds``): ``search.strategy=evolution`` with the same selection stage,
   ``search.total_budget_seconds = B``, its own search capped at DARTS's search seconds.
6. ``recipe_only`` (``--recipe-seeds``, an ablation, not a method: nothing is chosen): LightGCN with
   the recipe grid's softmax entry (cosine scores) under the full protocol, what the training recipe
   gives without any architecture search.

    python benchmarks/bench_issue9.py --datasets ml100k --seeds 0 1 2 --threads 1
    python benchmarks/bench_issue9.py --datasets gowalla_u10=search_lastfm.yaml --set data.path=/tmp/gowalla_u10 --seeds 0

Writes ``<out>/bench_issue9.json`` and ``<out>/bench_issue9.md`` after every seed.
``--merge A.json B.json ...`` prints the merged table, then DARTS's paired differences against LightGCN,
random search and evolution per data set and pooled over data sets with a one-sided 95% lower
confidence bound (:mod:`paired_table`).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_select import random_pool_with_baseline  # noqa: E402
from paired_table import paired_markdown  # noqa: E402

from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.engine import clock  # noqa: E402
from darts_gnn.tasks.metrics import Evaluator  # noqa: E402
from darts_gnn.pipeline import retrain, run_search  # noqa: E402
from darts_gnn.search.select import select_genotype  # noqa: E402
from darts_gnn.search.recipe import SOFTMAX_RECIPES, Recipe  # noqa: E402
from darts_gnn.search.pool import baseline_genotype, incumbent_candidate  # noqa: E402
from darts_gnn.search.select import INCUMBENT, selection_metric, valid_curve, valid_per_user  # noqa: E402
from darts_gnn.search.tune import tune_baseline  # noqa: E402
from darts_gnn.engine.trial import fit_and_evaluate  # noqa: E402
from darts_gnn.nn.models import build_model  # noqa: E402

CONFIGS = {"ml100k": "search_ml100k.yaml", "lastfm": "search_lastfm.yaml"}
METRICS = ("recall@20", "ndcg@20")
METHODS = (("lightgcn", "LightGCN (paper: lr 1e-3, L2 1e-4)"), ("tuned", "LightGCN tuned (lr x L2 on valid, equal budget)"),
           ("darts", "DARTS + selection"), ("random", "random + selection"), ("evolution", "evolution + selection"),
           ("recipe_only", "LightGCN + softmax recipe (ablation: no architecture search)"))


def _ms(values) -> str:
    if not values:
        return "-"
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {s:.4f}"


def _finish(sel, cfg, dataset, graph, ev, seconds: float) -> dict:
    """Retrain ``sel.winner`` with the full protocol and test it (``seconds``: search + selection)."""
    _, _, test, rt = retrain(sel.winner, dataset, graph, cfg, ev)
    return {**{m: test[m] for m in METRICS}, "genotype": sel.winner.summary(), "select_seconds": seconds,
            "paired": dict(sel.paired),
            "search_select_seconds": seconds, "retrain_seconds": rt, "total_seconds": seconds + rt, "retrained": len(sel.candidates), "skipped": sel.skipped,
            "candidates": [c.to_dict() for c in sel.candidates]}


def run_recipe_only(cfg, dataset, graph) -> dict:
    """The ablation row: the baseline point with the grid's softmax recipe (:data:`SOFTMAX_RECIPES`, lr
    ``search.select_lr``) retrained under the full protocol and tested; nothing chosen on validation."""
    fields, norm = SOFTMAX_RECIPES[0]
    g = baseline_genotype(cfg.model).with_(recipe=Recipe(lr=cfg.search.select_lr, **fields), norm=norm)
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    _, _, test, rt = retrain(g, dataset, graph, cfg, ev)
    return {**{m: test[m] for m in METRICS}, "genotype": g.summary(), "search_select_seconds": 0.0,
            "retrain_seconds": rt, "total_seconds": rt}


def run_tuned(cfg, dataset, graph, budget: float) -> dict:
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    t0 = clock.now()
    sel = tune_baseline(cfg, dataset, graph, ev, budget)
    return _finish(sel, cfg, dataset, graph, ev, clock.now() - t0)


def run_random(cfg, dataset, graph, budget: float, seed: int, reference: dict) -> dict:
    """Uniform genotypes + the LightGCN point through the same selection, against the same incumbent
    as DARTS's: the ``reference`` LightGCN run of this seed (its time counts, as in DARTS's budget)."""
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    pool, base = random_pool_with_baseline(cfg, dataset, graph, seed)
    inc = incumbent_candidate(cfg, dataset, graph, ev, reference)
    before = inc.seconds if inc is not None else 0.0
    t0 = clock.now()
    sel = select_genotype(pool, dataset, graph, cfg, ev, pool_size=len(pool), budget_seconds=budget - before,
                          anchors=[base] if base is not None and cfg.search.select_recipe_baseline else [],
                          incumbent=inc)
    return _finish(sel, cfg, dataset, graph, ev, clock.now() - t0 + before)


def run_evolution(path, overrides, dataset, graph, budget: float, search_seconds: float) -> dict:
    cfg = load_config(path, overrides + ["search.strategy=evolution", f"search.total_budget_seconds={budget}",
                                         f"search.budget_seconds={max(1.0, search_seconds)}"])
    rep = run_search(cfg, None, progress=False, dataset=dataset, graph=graph)
    sel = rep.metrics.get("selection", {})
    ss = rep.search.seconds + sel.get("selection_seconds", 0.0)
    return {**{m: rep.test[m] for m in METRICS}, "genotype": rep.genotype.summary(),
            "search_select_seconds": ss, "retrain_seconds": rep.retrain_seconds,
            "total_seconds": ss + rep.retrain_seconds,
            "proxy_spearman": sel.get("proxy_spearman"), "paired": sel.get("selection", {}).get("paired")}


def _lightgcn_row(base: dict) -> dict:
    """The LightGCN reference as a method row; ``base`` as :func:`run_search` reports its baseline."""
    return {**{m: base["test"][m] for m in METRICS}, "total_seconds": base["train_seconds"],
            "search_select_seconds": 0.0, "retrain_seconds": base["train_seconds"],
            "genotype": "LightGCN lr=0.001 l2=0.0001", "best_valid": base.get("best_valid"),
            "epochs": base.get("epochs"), "valid_curve": base.get("valid_curve") or ()}


def _incumbent_source(row: dict, per_user) -> dict:
    """The LightGCN reference of ``row`` as :func:`~darts_gnn.search.pool.incumbent_candidate` reads it
    (``per_user``: its ``[U]`` validation scores, kept in memory, not in the report)."""
    lg = row["lightgcn"]
    return {"best_valid": lg["best_valid"], "train_seconds": row["reference_seconds"], "epochs": lg["epochs"],
            "valid_per_user": per_user, "valid_curve": lg.get("valid_curve") or ()}


def _lightgcn(cfg, dataset, graph):
    """``(row fields, [U] validation scores)``: LightGCN with the config's full protocol, timed as
    :func:`run_search` times its baseline."""
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    b = fit_and_evaluate(lambda: build_model(cfg.model, dataset, graph), dataset, cfg.train, ev, graph=graph,
                         splits=("test",))
    return {"test": b.metrics["test"], "train_seconds": b.fit_seconds, "epochs": b.train.epochs_run,
            "best_valid": {k: float(v) for k, v in b.train.best_valid.items()},
            "valid_curve": valid_curve(b.train.history, selection_metric(ev)[0])}, valid_per_user(ev, b.model)


def _with_darts(cfg, dataset, graph, seed: int) -> dict:
    """The LightGCN reference and DARTS + selection, through ``run_search --compare-baseline``."""
    rep = run_search(cfg, None, compare_baseline=True, progress=False, dataset=dataset, graph=graph)
    inc = next((c for c in rep.selection.candidates if c.stage == INCUMBENT), None)
    d = rep.diagnostics
    ref = rep.baseline["train_seconds"]
    return {"seed": seed, "reference_seconds": ref, "budget_seconds": cfg.search.budget_factor * ref,
            "lightgcn": _lightgcn_row(rep.baseline),
            "darts": {**{m: rep.test[m] for m in METRICS}, "genotype": rep.genotype.summary(),
                      "search_seconds": rep.search.seconds, "select_seconds": d.get("selection_seconds"),
                      "retrain_seconds": rep.retrain_seconds, "total_seconds": d.get("total_seconds"),
                      "search_select_seconds": rep.search.seconds + d.get("selection_seconds", 0.0),
                      "proxy_spearman": d.get("proxy_spearman"),
                      "skipped": d.get("selection", {}).get("skipped"),
                      "candidates": d.get("selection", {}).get("candidates"),
                      "paired": d.get("selection", {}).get("paired")}}, inc.per_user if inc is not None else None


def one_seed(name: str, seed: int, args, dataset, graph, save=lambda row: None) -> dict:
    """All methods for one seed; ``save(row)`` after each, so that a stopped run leaves partial tables.
    Every method's seconds (and so every budget) are read from the config's ``search.budget_clock``;
    the row's ``cpu_over_wall`` is this process's CPU time over wall time for the whole seed (1 with
    one thread on an idle core: then CPU-time ratios are wall-time ratios)."""
    path = ROOT / "configs" / CONFIGS[name]
    overrides = list(args.set) + [f"train.num_threads={args.threads}", f"train.seed={seed}", f"search.seed={seed}",
                                  "train.progress=false"]
    cfg = load_config(path, overrides)
    wall, cpu = time.perf_counter(), time.process_time()
    with clock.counting(cfg.search.budget_clock, cfg.train.device, cfg.train.num_threads) as kind:
        row = _one_seed(name, seed, args, dataset, graph, save, path, overrides, cfg)
    row["clock"], row["cpu_over_wall"] = kind, (time.process_time() - cpu) / (time.perf_counter() - wall)
    print(f"[{name} seed {seed}] budget clock {kind}; CPU / wall time {row['cpu_over_wall']:.2f}", flush=True)
    save(row)
    return row


def _one_seed(name: str, seed: int, args, dataset, graph, save, path, overrides, cfg) -> dict:
    if seed not in args.darts_seeds:   # the LightGCN reference alone (the budget's unit)
        lg, per_user = _lightgcn(cfg, dataset, graph)
        ref = lg["train_seconds"]
        row = {"seed": seed, "reference_seconds": ref, "budget_seconds": cfg.search.budget_factor * ref,
               "lightgcn": _lightgcn_row(lg)}
        _say(name, seed, "lightgcn", row["lightgcn"], ref)
        save(row)
    else:
        row, per_user = _with_darts(cfg, dataset, graph, seed)
        ref = row["reference_seconds"]
        _say(name, seed, "lightgcn", row["lightgcn"], ref)
        _say(name, seed, "darts", row["darts"], ref)
        save(row)
    budget = row["budget_seconds"]
    if seed in args.tuned_seeds:
        row["tuned"] = run_tuned(cfg, dataset, graph, budget)
        _say(name, seed, "tuned", row["tuned"], ref)
        save(row)
    if seed in args.random_seeds:
        row["random"] = run_random(cfg, dataset, graph, budget, seed, _incumbent_source(row, per_user))
        _say(name, seed, "random", row["random"], ref)
        save(row)
    if seed in args.recipe_seeds:
        row["recipe_only"] = run_recipe_only(cfg, dataset, graph)
        _say(name, seed, "recipe", row["recipe_only"], ref)
        save(row)
    if seed in args.evo_seeds:
        # evolution's own search is capped at DARTS's search seconds: this run's, else the share of
        # the reference that DARTS's search took on this seed in --evo-cap-from, else 0.25 x the reference
        share = _darts_search_share(args.evo_cap_from, name, seed)
        cap = row["darts"]["search_seconds"] if "darts" in row else (share or 0.25) * ref
        row["evolution"] = run_evolution(path, overrides, dataset, graph, budget, cap)
        _say(name, seed, "evolution", row["evolution"], ref)
    return row


def _darts_search_share(files, name: str, seed: int) -> float | None:
    """DARTS's search seconds over the reference seconds of ``name``/``seed`` in the reports ``files``
    (the last that has it), or ``None``."""
    share = None
    for f in files or ():
        for row in json.loads(Path(f).read_text())["datasets"].get(name, []):
            if row.get("seed") == seed and "darts" in row:
                share = row["darts"]["search_seconds"] / row["reference_seconds"]
    return share


def _say(name, seed, method, r, ref) -> None:
    print(f"[{name} seed {seed}] {method:9s} R {r['recall@20']:.4f} N {r['ndcg@20']:.4f} "
          f"{r['total_seconds']:.0f} s (search+selection {r.get('search_select_seconds', 0.0) / ref:.2f}x, "
          f"total {r['total_seconds'] / ref:.2f}x): {r['genotype']}", flush=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _gain(rows, key: str, base: str, metric: str) -> str:
    """Relative gain of ``key`` over ``base`` on ``metric``, on the seeds where both ran (paired)."""
    both = [r for r in rows if key in r and base in r]
    if not both or key == base:
        return "—"
    a = statistics.fmean(r[key][metric] for r in both)
    b = statistics.fmean(r[base][metric] for r in both)
    return f"{100 * (a / b - 1):+.1f}%"


def _ref(row: dict, key: str) -> float:
    """The LightGCN seconds ``key`` is measured against: its own process's (after ``--merge``), else the row's."""
    return row[key].get("reference_seconds", row["reference_seconds"])


def merge(paths) -> dict:
    """One report from several ``bench_issue9.json`` files: rows by (data set, seed), methods by name,
    a later file's method replacing an earlier one's; each method keeps the LightGCN reference seconds
    of the process that ran it, so every time ratio stays a same-process ratio."""
    out: dict = {"command": "merge of " + " ".join(str(p) for p in paths), "threads": None, "datasets": {}}
    for path in paths:
        rep = json.loads(Path(path).read_text())
        out["threads"] = rep.get("threads")
        for name, rows in rep["datasets"].items():
            seeds = out["datasets"].setdefault(name, {})
            for r in rows:
                if "lightgcn" not in r:
                    continue
                row = seeds.setdefault(r["seed"], {"seed": r["seed"], "reference_seconds": r["reference_seconds"]})
                for key, _ in METHODS:
                    if key in r and (key != "lightgcn" or key not in row):
                        row[key] = {**r[key], "reference_seconds": r["reference_seconds"], "source": str(path)}
    out["datasets"] = {n: [rows[k] for k in sorted(rows)] for n, rows in out["datasets"].items()}
    return out


def table(report: dict) -> str:
    lines = [f"Command: `{report['command']}` (torch threads: {report['threads']})", "",
             "Gains are paired: over the seeds where both methods ran; R = Recall@20, N = NDCG@20.", "",
             "| data set | method | Recall@20 | NDCG@20 | R / N vs paper | R / N vs tuned | seeds "
             "| search+selection / LightGCN | total / LightGCN |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, rows in report["datasets"].items():
        rows = [r for r in rows if "lightgcn" in r]
        for key, label in METHODS:
            got = [r for r in rows if key in r]
            if not got:
                continue
            rec = [r[key]["recall@20"] for r in got]
            gains = [" / ".join(_gain(rows, key, b, m) for m in METRICS) for b in ("lightgcn", "tuned")]
            ratios = ", ".join(f"{r[key]['total_seconds'] / _ref(r, key):.2f}" for r in got)
            ss = ", ".join(f"{r[key].get('search_select_seconds', math.nan) / _ref(r, key):.2f}"
                           for r in got) if key != "lightgcn" else "-"
            lines.append(f"| {name} | {label} | {_ms(rec)} | {_ms([r[key]['ndcg@20'] for r in got])} | "
                         f"{gains[0]} | {gains[1]} | {len(got)} | {ss} | {ratios} |")
    lines += ["", "| data set | seed | method | Recall@20 / NDCG@20 | chosen |", "|---|---|---|---|---|"]
    for name, rows in report["datasets"].items():
        for r in rows:
            for key, _ in METHODS:
                if key in r:
                    lines.append(f"| {name} | {r['seed']} | {key} | {r[key]['recall@20']:.4f} / "
                                 f"{r[key]['ndcg@20']:.4f} | `{_cell(r[key]['genotype'])}` |")
    return "\n".join(lines) + "\n" + paired_markdown(report, "darts", ("lightgcn", "random", "evolution"), METRICS)


def _write(out: Path, report: dict) -> None:
    tmp = out / "bench_issue9.json.tmp"
    tmp.write_text(json.dumps(report, indent=2))
    tmp.replace(out / "bench_issue9.json")
    (out / "bench_issue9.md").write_text(table(report))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(CONFIGS),
                   help="ml100k, lastfm, or LABEL=CONFIG (a configs/ file name; with --set data.path=...)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--darts-seeds", nargs="*", type=int, default=[0, 1, 2],
                   help="seeds that run DARTS + selection (the others train the LightGCN reference alone)")
    p.add_argument("--tuned-seeds", nargs="*", type=int, default=[0, 1, 2])
    p.add_argument("--random-seeds", nargs="*", type=int, default=[0])
    p.add_argument("--evo-seeds", nargs="*", type=int, default=[0])
    p.add_argument("--recipe-seeds", nargs="*", type=int, default=[],
                   help="seeds that also retrain LightGCN with the softmax recipe alone (the ablation row)")
    p.add_argument("--evo-cap-from", nargs="*", default=[], metavar="JSON",
                   help="reports whose DARTS runs cap evolution's search (as a share of the reference) "
                        "on seeds that do not run DARTS here")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "issue9"))
    p.add_argument("--merge", nargs="+", metavar="JSON", help="only print the table of these reports merged")
    args = p.parse_args(argv)
    if args.merge:
        print(table(merge(args.merge)))
        return 0
    import torch

    from darts_gnn.data import Graph, load_dataset
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join(["python", "benchmarks/bench_issue9.py", *(argv if argv is not None else sys.argv[1:])]),
              "threads": args.threads, "datasets": {}}
    for spec in args.datasets:
        name, _, file = spec.partition("=")
        CONFIGS.setdefault(name, file or f"search_{name}.yaml")
        base = load_config(ROOT / "configs" / CONFIGS[name], list(args.set))
        dataset = load_dataset(base.data)
        graph = Graph.from_dataset(dataset, "train")
        report["datasets"][name] = []
        for seed in args.seeds:
            rows = report["datasets"][name]
            rows.append({})

            def save(row, rows=rows):
                rows[-1] = row
                _write(out, report)
            save(one_seed(name, seed, args, dataset, graph, save))
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
