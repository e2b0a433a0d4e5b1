"""Issue 12 benchmark, user profiling on MovieLens-100K: accuracy and macro F1 of a linear probe on
user embeddings for gender, age bucket and occupation, against the majority class and MF embeddings.

Per seed ``i`` (paired: the probe's user split ``task.seed``, ``train.seed`` and ``search.seed`` move
with ``i``), in one process, every model trained on interactions only (BPR; early stopping on
validation Recall@20, ``task.monitor: ranking``) with ``configs/ml100k_profile.yaml``:

1. majority class of the probe-training users (no embeddings);
2. untrained embeddings (LightGCN at its random initialisation: what the probe gets from no learning);
3. MF, trained with the config's ``train`` protocol;
4. LightGCN (same protocol; its wall time is the budget reference);
5. the searched architecture (DARTS search + validated selection + final retrain within
   ``search.budget_factor`` x the LightGCN time, chosen on validation Recall@20 only).

Each set of embeddings is probed twice: with class-balanced cross-entropy (the config's default,
for macro F1) and with plain cross-entropy (for accuracy).

    python benchmarks/bench_profile.py --seeds 0 1 2 --threads 1

Writes ``<out>/bench_profile.json`` and ``<out>/bench_profile.md`` after every seed.
"""
from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seeded_report import run_seeded  # noqa: E402
from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import Graph, load_dataset  # noqa: E402
from darts_gnn.nn.models import build_model  # noqa: E402
from darts_gnn.pipeline import run_search  # noqa: E402
from darts_gnn.engine.seed import seed_everything  # noqa: E402
from darts_gnn.tasks import build_task  # noqa: E402
from darts_gnn.engine.train import Trainer  # noqa: E402

CONFIG = ROOT / "configs" / "ml100k_profile.yaml"
ATTRS = ("gender", "age", "occupation")
ROWS = (("majority", "majority class"), ("untrained", "untrained LightGCN embeddings"),
        ("mf", "MF embeddings"), ("lightgcn", "LightGCN embeddings"), ("searched", "searched embeddings"))


def _ms(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {s:.3f}"


def _train(cfg, name: str, dataset, graph, task, ev):
    seed_everything(cfg.train.seed)
    model = build_model(dataclasses.replace(cfg.model, name=name), dataset, graph)
    t0 = time.perf_counter()
    res = Trainer(model, dataset, cfg.train, evaluator=ev, task=task).fit()
    return model, {"seconds": time.perf_counter() - t0, "epochs": res.epochs_run}


def _probes(model, evs) -> dict:
    """Test metrics of ``model`` under each probe variant: ``{variant: metrics}``."""
    return {k: ev.evaluate(model, "test") for k, ev in evs.items()}


def one_seed(seed: int, overrides: list[str]) -> dict:
    cfg = load_config(CONFIG, overrides + [f"task.seed={2020 + seed}", f"train.seed={2020 + seed}",
                                           f"search.seed={seed}", "train.progress=false"])
    task = build_task(cfg.task)
    dataset = task.prepare(load_dataset(cfg.data))
    graph = Graph.from_dataset(dataset, "train")
    ev = task.evaluator(dataset, cfg.train)
    plain = build_task(dataclasses.replace(cfg.task, balanced=False)).evaluator(dataset, cfg.train)
    evs = {"balanced": ev, "plain": plain}
    row: dict = {"seed": seed, "probe_users": {k: len(getattr(dataset.probe, k)) for k in ("train", "valid", "test")}}
    row["majority"] = {k: ev.majority("test") for k in evs}
    seed_everything(cfg.train.seed)
    row["untrained"] = _probes(build_model(cfg.model, dataset, graph), evs)
    for name in ("mf", "lightgcn"):
        model, info = _train(cfg, name, dataset, graph, task, ev)
        row[name] = {**_probes(model, evs), **info}
    budget = cfg.search.budget_factor * row["lightgcn"]["seconds"]   # 3x one LightGCN training
    scfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, total_budget_seconds=budget))
    rep = run_search(scfg, None, compare_baseline=False, progress=False, dataset=dataset, graph=graph)
    row["searched"] = {**_probes(rep.model, evs), "genotype": rep.genotype.summary(),
                       "seconds": rep.diagnostics.get("total_seconds")}
    for variant in evs:
        print(f"[seed {seed}, {variant}] " + " | ".join(
            f"{k} " + " ".join(f"{a[:3]} {row[k][variant][f'{a}_acc']:.3f}/{row[k][variant][f'{a}_f1']:.3f}"
                               for a in ATTRS) for k, _ in ROWS), flush=True)
    return row


def table(report: dict) -> str:
    rows = report["rows"]
    head = " | ".join(f"{a} acc | {a} macro F1" for a in ATTRS)
    lines = [f"Command: `{report['command']}` (torch threads: {report['threads']})"]
    for variant, what in (("balanced", "class-balanced cross-entropy (the config's default)"),
                          ("plain", "plain cross-entropy")):
        lines += ["", f"Probe: {what}; mean ± std over seeds, held-out users.", "",
                  f"| embeddings | {head} | Recall@20 (items) | seeds |", "|---" * (2 + 2 * len(ATTRS) + 1) + "|"]
        for key, label in ROWS:
            r = [x[key][variant] for x in rows]
            cells = " | ".join(f"{_ms([x[f'{a}_acc'] for x in r])} | {_ms([x[f'{a}_f1'] for x in r])}"
                               for a in ATTRS)
            lines.append(f"| {label} | {cells} | {_ms([x.get('recall@20') for x in r])} | {len(r)} |")
    lines += ["", "| seed | probe users train/valid/test | MF s | LightGCN s | search cost / one LightGCN training "
              "| searched genotype |", "|---|---|---|---|---|---|"]
    for x in rows:
        pu = x["probe_users"]
        ratio = (x["searched"]["seconds"] or 0.0) / x["lightgcn"]["seconds"]
        genotype = x["searched"]["genotype"].replace("|", "\\|")
        lines.append(f"| {x['seed']} | {pu['train']}/{pu['valid']}/{pu['test']} | {x['mf']['seconds']:.0f} | "
                     f"{x['lightgcn']['seconds']:.0f} | {ratio:.2f}× | `{genotype}` |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    return run_seeded("profile", __doc__, one_seed, table, argv)


if __name__ == "__main__":
    sys.exit(main())
