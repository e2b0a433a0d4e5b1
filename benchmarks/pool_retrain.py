r"""Test every finished candidate of a recorded selection: how good was the pool, and did validation
pick its best?

The final pick of a search is one draw from its finished candidates (those trained to their own
stopping point; :mod:`pool_spread`), made by validation. This script retrains each of them as the
final retrain does (full ``train`` protocol, the run's seed, the candidate's recipe) and tests it, so
that a strategy's *proposals* can be compared apart from the validation noise of the pick:

- per run: the finished candidates' validation (recorded) and test scores, which one was picked;
- per run and pooled: the pool's mean test score, the pick's, the best's (an oracle no strategy
  has), and Spearman's correlation of validation and test over the pool.

Candidates are read back from their one-line summaries (``Genotype.summary()``; genotypes with
content features are refused). The data set and config are given as for ``bench_issue9.py``:

    python benchmarks/pool_retrain.py REPORT.json --method darts --set search.budget_factor=6 --out OUT
    python benchmarks/pool_retrain.py --merge OUT1/pool_retrain.json OUT2/pool_retrain.json
"""
from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_issue9 import CONFIGS, METRICS  # noqa: E402
from pool_spread import valid_score  # noqa: E402

from darts_gnn.space.genotype import Genotype, LayerGene  # noqa: E402
from darts_gnn.space.recipe import Recipe  # noqa: E402
from darts_gnn.search.selection_result import spearman as _spearman  # noqa: E402

_RECIPE = re.compile(r"^(?P<loss>\w+)(?:\(M=(?P<m>\d+)(?:, t=(?P<t>[0-9.eE+-]+))?\))?"
                     r"(?: lr=(?P<lr>[0-9.eE+-]+))?(?: l2=(?P<l2>[0-9.eE+-]+))?$")


def parse_summary(text: str) -> Genotype:
    """The genotype whose :meth:`Genotype.summary` is ``text`` (raises ``ValueError`` on anything else)."""
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 3 or not parts[0].startswith("w") or not parts[2].startswith("combine="):
        raise ValueError(f"not a genotype summary: {text!r}")
    layers = []
    if parts[1] != "no propagation (MF)":
        for item in parts[1].split(","):
            body, _, skip = item.strip().partition("+")
            agg, _, transform = body.partition(">")
            layers.append(LayerGene(agg, transform, {"": "none", "res": "residual"}.get(skip, skip)))
    norm, recipe = False, None
    for extra in parts[3:]:
        if extra == "norm":
            norm = True
        elif extra.startswith("features="):
            raise ValueError(f"genotypes with content features cannot be read back from a summary: {text!r}")
        else:
            m = _RECIPE.match(extra)
            if m is None:
                raise ValueError(f"not a recipe in a genotype summary: {extra!r}")
            recipe = Recipe(loss=m["loss"], negatives=int(m["m"] or 1),
                            temperature=float(m["t"]) if m["t"] else 1.0,
                            lr=float(m["lr"]) if m["lr"] else None, l2=float(m["l2"]) if m["l2"] else None)
    g = Genotype(tuple(layers), parts[2][len("combine="):], int(parts[0][1:]), norm=norm, recipe=recipe)
    if g.summary() != text:
        raise ValueError(f"genotype summary does not read back: {text!r} -> {g.summary()!r}")
    return g


def finished(x: dict) -> list[dict]:
    """A recorded strategy's candidates that a final retrain could have taken: not the incumbent, not
    cut for trailing; a run the deadline stopped counts (the final retrain trains it to the end).
    Each genotype once (:func:`unique`)."""
    return unique(c for c in x.get("candidates") or [] if c.get("stage") != "incumbent" and not c.get("cut"))


def unique(cands) -> list[dict]:
    """``cands`` with each genotype once: a genotype trained twice (stopped by the deadline once,
    finished once) is one architecture, and its run with the better validation score stands for it, at
    the place of its first run."""
    kept: dict[str, dict] = {}
    for c in cands:
        first = kept.setdefault(c["genotype"], c)
        if valid_score(c) > valid_score(first):
            kept[c["genotype"]] = c
    return list(kept.values())


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (:func:`darts_gnn.search.selection_result.spearman`); nan under 3 pairs."""
    return _spearman(a, b) if len(a) >= 3 else math.nan


def summarize(cands: list[dict], picked: str) -> dict:
    """Pool mean, pick, best (test Recall@20 / NDCG@20) and Spearman(valid, test) over ``cands``
    (each with ``valid`` and ``test``)."""
    out = {"n": len(cands), "spearman": spearman([c["valid"] for c in cands], [c["test"]["recall@20"] for c in cands])}
    for m in METRICS:
        scores = [c["test"][m] for c in cands]
        out[m] = {"mean": statistics.fmean(scores), "best": max(scores),
                  "pick": next((c["test"][m] for c in cands if c["genotype"] == picked), math.nan)}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("report", nargs="?", help="a bench_issue9.json")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="only print the tables of these pool_retrain.json files")
    p.add_argument("--method", default="darts", choices=("darts", "random", "tuned"))
    p.add_argument("--datasets", nargs="+", default=None, help="as bench_issue9.py (LABEL=CONFIG for unnamed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="a directory; writes pool_retrain.json")
    p.add_argument("--extend", metavar="JSON", help="an earlier pool_retrain.json of the same report: its "
                   "candidates are kept, not trained again")
    args = p.parse_args(argv)
    if args.merge:
        print(merged_table([json.loads(Path(f).read_text()) for f in args.merge]))
        return 0
    if not args.report or not args.out:
        p.error("give a report and --out (or --merge)")
    import torch
    from darts_gnn.config import load_config
    from darts_gnn.data import Graph, load_dataset
    from darts_gnn.pipeline import retrain
    from darts_gnn.tasks.metrics import Evaluator
    torch.set_num_threads(args.threads)
    for spec in args.datasets or []:
        if "=" in spec:
            label, cfg_name = spec.split("=", 1)
            CONFIGS[label] = cfg_name
    report = json.loads(Path(args.report).read_text())
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = {"report": args.report, "method": args.method, "runs": []}
    earlier = {(r["dataset"], r["seed"]): r["candidates"]
               for r in (json.loads(Path(args.extend).read_text())["runs"] if args.extend else [])}
    for name, rows in report["datasets"].items():
        data = None                                       # one data set for all its seeds: the split is fixed
        for r in rows:
            x = r.get(args.method)
            pool = finished(x) if x else []
            if not pool:
                continue
            cfg = load_config(ROOT / "configs" / CONFIGS[name], list(args.set) + [
                f"train.num_threads={args.threads}", f"train.seed={r['seed']}", f"search.seed={r['seed']}",
                "train.progress=false"])
            if data is None:
                dataset = load_dataset(cfg.data)
                data = (dataset, Graph.from_dataset(dataset, "train"),
                        Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users))
            dataset, graph, ev = data
            cands = []
            for c in pool:
                old = [e for e in earlier.get((name, r["seed"]), []) if e["genotype"] == c["genotype"]]
                if old:
                    cands.append(old[0])
                    continue
                _, _, test, seconds = retrain(parse_summary(c["genotype"]), dataset, graph, cfg, ev)
                v = valid_score(c)
                cands.append({"genotype": c["genotype"], "valid": v, "test": {m: test[m] for m in METRICS},
                              "seconds": seconds, "stage": c.get("stage"), "shallow": bool(c.get("shallow"))})
                print(f"[{name} seed {r['seed']} {args.method}] valid {v:.4f} test {test['recall@20']:.4f} / "
                      f"{test['ndcg@20']:.4f}{' *' if c['genotype'] == x['genotype'] else ''}: {c['genotype']}",
                      flush=True)
            result["runs"].append({"dataset": name, "seed": r["seed"], "method": args.method, "picked": x["genotype"],
                                   "picked_test": {m: x[m] for m in METRICS}, "candidates": cands,
                                   "summary": summarize(cands, x["genotype"])})
            tmp = out_dir / "pool_retrain.json.tmp"
            tmp.write_text(json.dumps(result, indent=1))
            tmp.replace(out_dir / "pool_retrain.json")
    print(table(result["runs"]))
    return 0


def table(runs: list[dict]) -> str:
    """Per run: finished candidates, Spearman(valid, test), test Recall@20 of the pool's mean, the pick
    and the best; then the means over runs."""
    lines = ["| data set | seed | method | finished | Spearman(valid, test) | pool mean | pick | best |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        s = r["summary"]
        rho = "—" if math.isnan(s["spearman"]) else f"{s['spearman']:+.2f}"
        rec = s["recall@20"]
        lines.append(f"| {r['dataset']} | {r['seed']} | {r.get('method', '')} | {s['n']} | {rho} | "
                     f"{rec['mean']:.4f} | {rec['pick']:.4f} | {rec['best']:.4f} |")
    if runs:
        mean = statistics.fmean
        lines.append(f"| mean | | | {mean(r['summary']['n'] for r in runs):.1f} | | "
                     f"{mean(r['summary']['recall@20']['mean'] for r in runs):.4f} | "
                     f"{mean(r['summary']['recall@20']['pick'] for r in runs):.4f} | "
                     f"{mean(r['summary']['recall@20']['best'] for r in runs):.4f} |")
    return "\n".join(lines) + "\n"


def own(cands: list[dict]) -> list[dict]:
    """The strategy's own architectures: the architecture stage's runs, not the shallow candidate (the
    recipe stage's runs and the shallow candidate are the same for every strategy)."""
    return [c for c in cands if c.get("stage") == "architecture" and not c.get("shallow")]


def _deduped(run: dict) -> dict:
    """A recorded run with each genotype once (:func:`unique`; files written before it counted a
    genotype trained twice twice) and its summary recomputed."""
    cands = unique(run["candidates"])
    return dict(run, candidates=cands, summary=summarize(cands, run["picked"]))


def merged_table(results: list[dict]) -> str:
    """Per method over the runs of ``results``: Recall@20 / NDCG@20 of the pick, of the mean of the
    strategy's own architectures and of the recipe stage's best validated run (the baseline
    architecture with the winning recipe, where it ran), and the best of the pool; Spearman's
    correlation of validation and test over every finished candidate, pooled per run by its mean."""
    results = [dict(res, runs=[_deduped(r) for r in res["runs"]]) for res in results]
    lines = [table([{"method": res["method"], **r} for res in results for r in res["runs"]]),
             "| method | runs | own architectures | pick | own mean | recipe stage's best | pool's best "
             "| mean Spearman |",
             "|---|---|---|---|---|---|---|---|"]
    for method in dict.fromkeys(res["method"] for res in results):
        runs = [r for res in results if res["method"] == method for r in res["runs"]]
        mean = statistics.fmean
        cells = {m: {"pick": [], "own": [], "anchor": [], "best": []} for m in METRICS}
        for r in runs:
            mine = own(r["candidates"])
            anchor = max((c for c in r["candidates"] if c.get("stage") == "recipe"), key=lambda c: c["valid"],
                         default=None)
            for m in METRICS:
                cells[m]["pick"].append(r["summary"][m]["pick"])
                cells[m]["best"].append(r["summary"][m]["best"])
                if mine:
                    cells[m]["own"].append(mean(c["test"][m] for c in mine))
                if anchor is not None:
                    cells[m]["anchor"].append(anchor["test"][m])

        def cell(key):
            return " / ".join(f"{mean(cells[m][key]):.4f}" if cells[m][key] else "—" for m in METRICS)
        rhos = [r["summary"]["spearman"] for r in runs if not math.isnan(r["summary"]["spearman"])]
        lines.append(f"| {method} | {len(runs)} | {sum(len(own(r['candidates'])) for r in runs)} | {cell('pick')} | "
                     f"{cell('own')} | {cell('anchor')} | {cell('best')} | "
                     f"{mean(rhos) if rhos else math.nan:+.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
