"""Benchmark of issue 11: language-model content features fused into the graph, fusion searched.

Parts (``--parts``, default all):

* ``encode``: seconds to encode the 1,682 ml-100k item texts with the default encoder (fresh cache),
  and the cached second run.
* ``warm`` (ml-100k split-2020, test at the best validation epoch): LightGCN (ids); LightGCN + content
  with the best fixed fusion (picked on validation Recall@20 among ``FIXED`` on the first seed, then
  trained on every seed); the searched architecture with the fusion searched (``--space``: ``fusion``
  = LightGCN backbone fixed, the four fusion choices searched; ``full`` = the whole default space
  too), greedy derivation, retrained from scratch.
* ``cold`` (20% of the items held out entirely, split seeded by the seed): Recall/NDCG@20 over the
  held-out items (``darts_gnn.engine.coldstart``) of LightGCN (ids), the searched content model
  (sources limited to content and id+content), content kNN and popularity, and chance.

    python benchmarks/bench_features.py --seeds 0 --out benchmarks/results/features   # one seed
    python benchmarks/bench_features.py --report benchmarks/results/features          # the table

Each seed writes ``<out>/seed<k>.json``; ``--report`` reads them all and prints markdown.
Budgets (``CAPS``, for a shared 2-core machine; every arm alike): at most 60 epochs, validation every
3, patience 4, Adam lr 5e-3 (the LightGCN protocol's 1e-3 needs ~100+ epochs on ml-100k).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "configs" / "features_ml100k.yaml"
# fixed fusions tried for "LightGCN + content" (source id+content unless stated)
FIXED = ["linear/sum@input", "whiten/sum@input", "linear/gate@input", "linear/sum@late"]
CAPS = ["train.epochs=60", "train.eval_every=3", "train.patience=4", "train.lr=0.005"]


def _gene(spec: str):
    from darts_gnn.space.fusion import FeatureGene
    body, at = spec.split("@")
    transform, fusion = body.split("/")
    return FeatureGene("id+content", transform, fusion, at)


def _train(model, dataset, cfg, cold_eval=None):
    from darts_gnn.engine.coldstart import WarmNegativeSampler
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.engine.train import Trainer
    ev = Evaluator(dataset, ks=(20,), batch_users=cfg.train.eval_batch_users)
    sampler = None if cold_eval is None else WarmNegativeSampler(cold_eval.split, cfg.train.batch_size, cfg.train.seed)
    t0 = time.perf_counter()
    res = Trainer(model, dataset, cfg.train, evaluator=ev, sampler=sampler).fit()
    out = {k: float(v) for k, v in ev.evaluate(model, "test").items() if k in ("recall@20", "ndcg@20")}
    out.update(valid=float(res.best_valid.get("recall@20", 0.0)), epochs=res.epochs_run,
               seconds=time.perf_counter() - t0)
    if cold_eval is not None:
        out.update({f"cold_{k}": v for k, v in cold_eval.evaluate(model).items()})
    return out


def _genotype_run(genotype, dataset, graph, cfg, feats, cold_eval=None):
    from darts_gnn.engine.seed import seed_everything
    seed_everything(cfg.train.seed)
    model = genotype.build_model(dataset, graph, **feats)
    return {"genotype": genotype.summary(), **_train(model, dataset, cfg, cold_eval)}


def _search(cfg, dataset, graph, feats, space: str, sources: list[str], cold_eval=None):
    from darts_gnn.tasks.metrics import Evaluator
    from darts_gnn.space.fusion import FeatureSpace
    from darts_gnn.search.derive import greedy_genotype
    from darts_gnn.pipeline import build_searcher
    if space == "fusion":
        cfg.search.space = {"aggregators": ["gcn"], "transforms": ["identity"], "skips": ["none"],
                            "combines": ["mean"], "depths": [3], "widths": [64]}
    cfg.features.space = FeatureSpace(sources=sources).__dict__
    ev = Evaluator(dataset, ks=(20,), batch_users=cfg.train.eval_batch_users)
    t0 = time.perf_counter()
    searcher = build_searcher(cfg, dataset, graph, evaluator=ev, progress=False, features=feats)
    searcher.run()
    genotype, _ = greedy_genotype(searcher.model, ev)
    seconds = time.perf_counter() - t0
    out = _genotype_run(genotype, dataset, graph, cfg, feats, cold_eval)
    out.update(search_seconds=seconds, probabilities=searcher.model.probabilities())
    return out


def _config(seed: int, overrides: list[str]):
    from darts_gnn.config import load_config
    return load_config(CONFIG, CAPS + [f"train.seed={seed}", f"search.seed={seed}"] + overrides)


def part_encode(out: dict) -> None:
    import tempfile

    from darts_gnn.features import encode_texts
    from darts_gnn.features.movielens import item_texts, read_items
    texts = item_texts(read_items(ROOT.parent / "shared" / "data" / "ml-100k" / "u.item"))
    with tempfile.TemporaryDirectory() as cache:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            x = encode_texts(texts, cache_dir=cache, progress=False)
            times.append(time.perf_counter() - t0)
    out["encode"] = {"items": len(texts), "dim": int(x.shape[1]), "first_s": times[0], "cached_s": times[1]}


def part_warm(out: dict, seed: int, overrides: list[str], space: str, fixed: str | None) -> None:
    from darts_gnn.data import Graph, load_dataset
    from darts_gnn.features import model_features
    from darts_gnn.space.genotype import Genotype
    cfg = _config(seed, overrides)
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    feats = model_features(cfg, ds, progress=False)
    res = {"lightgcn": _genotype_run(Genotype.lightgcn(3, 64), ds, graph, cfg, {})}
    candidates = [fixed] if fixed else FIXED
    tried = {}
    for spec in candidates:
        g = Genotype.lightgcn(3, 64)
        g = Genotype(g.layers, g.combine, g.width, features=_gene(spec))
        tried[spec] = _genotype_run(g, ds, graph, cfg, feats)
    best = max(tried, key=lambda s: tried[s]["valid"])
    res["fixed_tried"] = tried
    res["fixed_best"] = {"spec": best, **tried[best]}
    res["searched"] = _search(cfg, ds, graph, feats, space, ["id", "content", "id+content"])
    out["warm"] = res


def part_cold(out: dict, seed: int, overrides: list[str], space: str, fraction: float) -> None:
    from darts_gnn.data import Graph, load_dataset
    from darts_gnn.engine.coldstart import (ColdStartEvaluator, chance_recall, cold_item_split, content_knn_scores,
                                              popularity_scores)
    from darts_gnn.features import model_features
    from darts_gnn.space.genotype import Genotype
    cfg = _config(seed, overrides)
    split = cold_item_split(load_dataset(cfg.data), fraction, seed)
    ds = split.warm
    graph = Graph.from_dataset(ds, "train")
    feats = model_features(cfg, ds, progress=False)
    ce = ColdStartEvaluator(split, ks=(20,))
    res = {"n_cold_items": len(split.cold_items), "n_cold_pairs": len(split.cold),
           "chance_recall@20": chance_recall(split, 20)}
    res["lightgcn"] = _genotype_run(Genotype.lightgcn(3, 64), ds, graph, cfg, {}, ce)
    res["searched"] = _search(cfg, ds, graph, feats, space, ["content", "id+content"], ce)
    res["content_knn"] = ce.evaluate_scores(content_knn_scores(ds, feats["item_features"], ce.cold_items))
    res["popularity"] = ce.evaluate_scores(popularity_scores(ds, ce.cold_items, seed))
    out["cold"] = res


def _ms(vals: list[float]) -> str:
    if not vals:
        return "-"
    s = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.fmean(vals):.4f} ± {s:.4f}"


def report(folder: Path) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("seed*.json"))]
    lines = [f"seeds: {', '.join(str(r['seed']) for r in runs)}", ""]
    warm = [r["warm"] for r in runs if "warm" in r]
    if warm:
        lines += ["| ml-100k warm (split-2020) | Recall@20 | NDCG@20 | epochs | architecture |", "|---|---|---|---|---|"]
        for key, name in (("lightgcn", "LightGCN (ids)"), ("fixed_best", "LightGCN + content, best fixed fusion"),
                          ("searched", "searched, fusion searched")):
            rows = [w[key] for w in warm]
            arch = "; ".join(sorted({r.get("genotype", "") + (f" [{r['spec']}]" if "spec" in r else "") for r in rows}))
            lines.append(f"| {name} | {_ms([r['recall@20'] for r in rows])} | {_ms([r['ndcg@20'] for r in rows])} "
                         f"| {statistics.fmean(r['epochs'] for r in rows):.0f} | {arch} |")
        lines.append("")
        tried = warm[0]["fixed_tried"]
        if len(tried) > 1:
            lines += ["fixed fusions on the first seed (validation Recall@20 picks): " +
                      ", ".join(f"{k}: valid {v['valid']:.4f}" for k, v in tried.items()), ""]
    cold = [r["cold"] for r in runs if "cold" in r]
    if cold:
        lines += [f"| ml-100k cold items ({cold[0]['n_cold_items']} held out) | cold Recall@20 | cold NDCG@20 |",
                  "|---|---|---|"]
        for key, name in (("searched", "searched content model"), ("content_knn", "content kNN (cosine)"),
                          ("popularity", "popularity"), ("lightgcn", "LightGCN (ids)")):
            rows = [c[key] for c in cold]
            rk = "cold_recall@20" if "cold_recall@20" in rows[0] else "recall@20"
            nk = "cold_ndcg@20" if "cold_ndcg@20" in rows[0] else "ndcg@20"
            lines.append(f"| {name} | {_ms([r[rk] for r in rows])} | {_ms([r[nk] for r in rows])} |")
        lines.append(f"| chance | {_ms([c['chance_recall@20'] for c in cold])} | |")
        lines += ["", "searched cold genotypes: " + "; ".join(c["searched"]["genotype"] for c in cold), ""]
    enc = [r["encode"] for r in runs if "encode" in r]
    if enc:
        e = enc[0]
        lines += [f"encoding {e['items']} items ({e['dim']}-d): first run {e['first_s']:.1f} s, "
                  f"cached {e['cached_s']:.2f} s", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--parts", nargs="+", default=["encode", "warm", "cold"], choices=["encode", "warm", "cold"])
    p.add_argument("--space", default="fusion", choices=["fusion", "full"])
    p.add_argument("--fixed", default=None, help="skip the fixed-fusion pick and use this one, e.g. linear/sum@input")
    p.add_argument("--cold-fraction", type=float, default=0.2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "features")
    p.add_argument("--report", type=Path, default=None, help="print the markdown table of a results folder")
    a = p.parse_args(argv)
    if a.report is not None:
        print(report(a.report))
        return 0
    import torch
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    for seed in a.seeds:
        out = {"seed": seed, "space": a.space, "caps": CAPS + a.overrides}
        if "encode" in a.parts:
            part_encode(out)
        if "warm" in a.parts:
            part_warm(out, seed, a.overrides, a.space, a.fixed)
        if "cold" in a.parts:
            part_cold(out, seed, a.overrides, a.space, a.cold_fraction)
        path = a.out / f"seed{seed}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1))
        tmp.replace(path)
        print(f"seed {seed} done -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
