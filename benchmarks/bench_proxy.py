"""Issue 9 item 3: is a few-epoch stand-alone training a better proxy than the one-shot score?

Re-uses the selection pools of an earlier ``bench_select.py`` run (``bench_select.json``: per seed,
the retrained architectures with their one-shot score and their validation Recall@20 after the
short complete protocol). Each architecture is trained alone for ``--epochs`` epochs (same seed, lr
5e-3), and the Spearman correlation with the retrained validation Recall is printed per seed and
over all seeds, next to the one-shot proxy's on the same pools.

    python benchmarks/bench_proxy.py benchmarks/results/select/ml100k/bench_select.json \
        benchmarks/results/select/ml100k_seeds12/bench_select.json \
        benchmarks/results/select/ml100k_seed2/bench_select.json --epochs 3 5 10
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from darts_gnn.config import load_config  # noqa: E402
from darts_gnn.data import Graph, load_dataset  # noqa: E402
from darts_gnn.space.genotype import Genotype, LayerGene  # noqa: E402
from darts_gnn.tasks.metrics import Evaluator  # noqa: E402
from darts_gnn.search.proxy import proxy_spearman, short_train_scores  # noqa: E402
from darts_gnn.search.select import spearman  # noqa: E402

CONFIGS = {"ml100k": "search_ml100k.yaml", "lastfm": "search_lastfm.yaml"}


def parse_summary(text: str) -> Genotype:
    """The architecture of a ``Genotype.summary()`` line (width, layers, combine; recipe dropped)."""
    parts = [p.strip() for p in text.split("|")]
    width = int(parts[0].lstrip("w"))
    layers = []
    if not parts[1].startswith("no propagation"):
        for item in parts[1].split(", "):
            agg, rest = item.split(">")
            tr, _, skip = rest.partition("+")
            layers.append(LayerGene(agg, tr, {"res": "residual", "": "none"}.get(skip, skip)))
    return Genotype(tuple(layers), parts[2].split("=")[1], width)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--epochs", nargs="+", type=int, default=[3, 5, 10])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    rows, cache = [], {}
    for f in args.files:
        rep = json.loads(Path(f).read_text())
        for name, seeds in rep["datasets"].items():
            if name not in cache:
                cfg = load_config(ROOT / "configs" / CONFIGS[name], ["train.progress=false"])
                ds = load_dataset(cfg.data)
                cache[name] = (cfg, ds, Graph.from_dataset(ds, "train"), Evaluator(ds, ks=(20,)))
            cfg, ds, graph, ev = cache[name]
            for row in seeds:
                arch = [c for c in row["searched"]["candidates"] if c["stage"] == "architecture"]
                pool = [parse_summary(c["genotype"]) for c in arch]
                valid = {g: c["valid"]["recall@20"] for g, c in zip(pool, arch)}
                shot = {g: c["one_shot"] for g, c in zip(pool, arch) if c["one_shot"] is not None}
                tcfg = load_config(ROOT / "configs" / CONFIGS[name], ["train.progress=false",
                                                                      f"train.seed={row['seed']}"]).train
                t0 = time.perf_counter()
                scores = short_train_scores(pool, ds, graph, tcfg, ev, epochs=args.epochs)
                rows.append({"data": name, "seed": row["seed"], "n": len(pool), "valid": valid, "one_shot": shot,
                             "short": scores, "seconds": time.perf_counter() - t0})
                r = rows[-1]
                print(f"[{name} seed {r['seed']}] n={r['n']} one-shot {proxy_spearman(shot, valid):+.2f} | " +
                      " | ".join(f"{e} ep {proxy_spearman(s, valid):+.2f}" for e, s in scores.items()) +
                      f" ({r['seconds']:.0f} s)", flush=True)
    print("\n| data | seed | pool | one-shot | " + " | ".join(f"{e} epochs" for e in sorted(set(args.epochs))) +
          " | short-train s |")
    print("|---|---|---|---|" + "---|" * len(set(args.epochs)) + "---|")
    for r in rows:
        cells = [f"{proxy_spearman(r['one_shot'], r['valid']):+.2f}"] + \
                [f"{proxy_spearman(s, r['valid']):+.2f}" for s in r["short"].values()]
        print(f"| {r['data']} | {r['seed']} | {r['n']} | " + " | ".join(cells) + f" | {r['seconds']:.0f} |")
    for name in sorted({r["data"] for r in rows}):   # pooled over seeds: ranks within each seed's pool
        mine = [r for r in rows if r["data"] == name]
        cols = [("one-shot", lambda r: r["one_shot"])] + [(f"{e} ep", lambda r, e=e: r["short"][e])
                                                          for e in sorted(set(args.epochs))]
        out = []
        for label, get in cols:
            a, b = [], []
            for r in mine:
                keys = [g for g in get(r) if g in r["valid"]]
                a += _ranks([get(r)[g] for g in keys])
                b += _ranks([r["valid"][g] for g in keys])
            out.append(f"{label} {spearman(a, b):+.2f}")
        print(f"pooled {name} (within-seed ranks, {sum(r['n'] for r in mine)} points): " + ", ".join(out))
    return 0


def _ranks(x):
    order = sorted(range(len(x)), key=lambda i: x[i])
    r = [0.0] * len(x)
    for k, i in enumerate(order):
        r[i] = k / max(1, len(x) - 1)
    return r


if __name__ == "__main__":
    sys.exit(main())
