r"""Where the noise of the selection's pick comes from: the training seed, or the validation users?

The selection compares finalists ``a`` and ``b`` by the mean over validation users of
:math:`d_u = r_u(a) - r_u(b)` (Recall@20 per user), each finalist trained once with the run's seed.
That comparison has two sources of noise:

- **sampling**: which users and interactions the validation split holds. Its standard error is the
  paired one, :math:`\mathrm{se} = s_d / \sqrt n` over the ``n`` validation users
  (:func:`darts_gnn.search.paired.paired_gain`). No retraining removes it; only a larger validation
  split would.
- **seed**: which training run each finalist got. Its size is the spread over training seeds of
  :math:`\bar d` on the *same* users, :math:`s_{seed}`. Training every finalist with ``k`` seeds
  and averaging divides its variance by ``k``, at ``k - 1`` more runs per finalist.

For every pair of the given genotypes this script trains each with the selection's short protocol
(``search.select_patience``; the recipe's ``lr``) once per seed and prints ``se``, ``s_seed``, the
share of the comparison's variance that is the seed's, :math:`s_{seed}^2 / (s_{seed}^2 + se^2)`,
and how much of it ``k = 2`` seeds would remove. It also prints, per pair, the mean validation and
test differences: whether validation and test agree on the pair's order.

    python benchmarks/pick_noise.py --genotype "SUMMARY" --genotype "SUMMARY" ... --seeds 0 1 2 --out OUT
    python benchmarks/pick_noise.py --table OUT/pick_noise.json [OUT2/pick_noise.json ...]   # runs together
    python benchmarks/pick_noise.py --table OUT/pick_noise.json --final POOL/pool_retrain.json ...
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_issue9 import CONFIGS  # noqa: E402
from pool_retrain import parse_summary  # noqa: E402

METRIC = "recall@20"


def _gain(a: list[float], b: list[float]) -> tuple[float, float]:
    """``(mean of a - b, its paired standard error)`` over the same users
    (:func:`darts_gnn.search.paired.paired_gain`)."""
    import torch
    from darts_gnn.search.paired import paired_gain
    return paired_gain(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))


def pair_rows(runs: list[dict]) -> list[dict]:
    """Per pair of genotypes trained on the same seeds: ``{a, b, seeds, valid_diff, test_diff, se,
    seed_sd, seed_share, k2}`` (``runs``: ``{genotype, seed, valid, test}`` with per-user lists; ``k2``:
    the comparison's spread with 2 seeds per finalist relative to one seed's)."""
    by = {(r["genotype"], r["seed"]): r for r in runs}
    names = list(dict.fromkeys(r["genotype"] for r in runs))
    out = []
    for a, b in itertools.combinations(names, 2):
        seeds = [s for s in dict.fromkeys(r["seed"] for r in runs) if (a, s) in by and (b, s) in by]
        if not seeds:
            continue
        valid = [_gain(by[a, s]["valid"], by[b, s]["valid"]) for s in seeds]
        dv = [d for d, _ in valid]
        se = statistics.fmean(e for _, e in valid)
        var = statistics.variance(dv) if len(dv) > 1 else math.nan     # the seed's part (nan stays nan)
        out.append({"a": a, "b": b, "seeds": len(seeds), "valid_diff": statistics.fmean(dv),
                    "test_diff": statistics.fmean(_gain(by[a, s]["test"], by[b, s]["test"])[0] for s in seeds),
                    "se": se, "seed_sd": math.sqrt(var), "seed_share": var / (var + se ** 2),
                    "k2": math.sqrt((var / 2 + se ** 2) / (var + se ** 2))})
    return out


def table(runs: list[dict]) -> str:
    """The markdown table of :func:`pair_rows`, genotypes numbered in the order given, then their legend."""
    names = list(dict.fromkeys(r["genotype"] for r in runs))
    num = {g: i + 1 for i, g in enumerate(names)}
    lines = ["| pair | seeds | valid a − b | test a − b | sampling se | seed sd | seed's share | sd with 2 seeds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in pair_rows(runs):
        lines.append(f"| {num[r['a']]} − {num[r['b']]} | {r['seeds']} | {r['valid_diff']:+.4f} | "
                     f"{r['test_diff']:+.4f} | {r['se']:.4f} | {r['seed_sd']:.4f} | {r['seed_share']:.0%} | "
                     f"{r['k2']:.2f}x |")
    lines += [""] + [f"{num[g]}. `{g}`" for g in names]
    return "\n".join(lines) + "\n"


def drift_table(runs: list[dict], pools: list[dict]) -> str:
    """Per (genotype, seed) trained here and retrained in a ``pool_retrain.json`` of ``pools`` (same data
    set): the short run's test Recall@20 against the final retrain's (full protocol, same seed). The
    selection judges the short run; the final retrain trains on with the longer patience."""
    final = {(r["dataset"], r["seed"], c["genotype"]): c["test"][METRIC]
             for res in pools for r in res["runs"] for c in r["candidates"]}
    lines = ["| genotype | seed | short run's test | final retrain's test | final − short |", "|---|---|---|---|---|"]
    names = {g: i + 1 for i, g in enumerate(dict.fromkeys(r["genotype"] for r in runs))}
    for r in runs:
        f = final.get((r.get("dataset"), r["seed"], r["genotype"]))
        if f is not None:
            short = statistics.fmean(r["test"])
            lines.append(f"| {names[r['genotype']]} | {r['seed']} | {short:.4f} | {f:.4f} | {f - short:+.4f} |")
    return "\n".join(lines) + "\n"


def _train(args, genotypes: dict) -> list[dict]:
    import torch
    from darts_gnn.config import load_config
    from darts_gnn.data import Graph, load_dataset
    from darts_gnn.search.select import train_candidate
    from darts_gnn.tasks.metrics import Evaluator
    torch.set_num_threads(args.threads)
    cfg = load_config(ROOT / "configs" / CONFIGS[args.dataset], list(args.set) + [
        f"train.num_threads={args.threads}", "train.progress=false"])
    dataset = load_dataset(cfg.data)                                       # the split does not follow the seed
    graph = Graph.from_dataset(dataset, "train")
    ev = Evaluator(dataset, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    runs = []
    for seed in args.seeds:
        for text, genotype in genotypes.items():
            model, res, sec = train_candidate(genotype, dataset, graph, cfg.train, ev,
                                              patience=cfg.search.select_patience, seed=seed)
            valid, test = ([round(v, 6) for v in ev.per_user(model, split)[METRIC].tolist()]
                           for split in ("valid", "test"))
            runs.append({"genotype": text, "dataset": args.dataset, "seed": seed, "valid": valid, "test": test,
                         "seconds": sec, "epochs": res.epochs_run})
            print(f"[seed {seed}] valid {statistics.fmean(valid):.4f} test {statistics.fmean(test):.4f} "
                  f"({sec:.0f} s): {text}", flush=True)
            out = Path(args.out) / "pick_noise.json"
            tmp = out.with_suffix(".json.tmp")
            tmp.write_text(json.dumps({"dataset": args.dataset, "set": args.set, "runs": runs}))
            tmp.replace(out)
    return runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--genotype", action="append", default=[], metavar="SUMMARY",
                   help="a finalist, as Genotype.summary() prints it (give at least two)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--dataset", default="ml100k", help="as bench_issue9.py (LABEL=CONFIG for unnamed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="a directory; writes pick_noise.json after every run")
    p.add_argument("--table", nargs="+", metavar="JSON", help="only print the table of earlier pick_noise.json files "
                   "(their runs together, e.g. seeds trained in separate processes)")
    p.add_argument("--final", nargs="+", metavar="JSON", help="with --table: pool_retrain.json files; also print "
                   "the short runs' test scores against the final retrains' of the same genotype and seed")
    args = p.parse_args(argv)
    if args.table:
        files = [json.loads(Path(f).read_text()) for f in args.table]
        runs = [dict(r, dataset=r.get("dataset", d.get("dataset"))) for d in files for r in d["runs"]]
        print(table(runs))
        if args.final:
            print(drift_table(runs, [json.loads(Path(f).read_text()) for f in args.final]))
        return 0
    if len(args.genotype) < 2 or not args.out:
        p.error("give at least two --genotype and --out (or --table)")
    if "=" in args.dataset:
        label, cfg_name = args.dataset.split("=", 1)
        CONFIGS[label] = cfg_name
        args.dataset = label
    try:
        genotypes = {text: parse_summary(text) for text in args.genotype}
    except ValueError as e:
        p.error(str(e))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    print(table(_train(args, genotypes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
