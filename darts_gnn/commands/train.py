"""``darts-gnn train``: train and evaluate one model (a baseline or a saved genotype)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..config import config_to_dict
from ..errors import UserError
from .common import add_config_args, config_from_args, format_metrics, load_data, save_checkpoint, setup_torch


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train and evaluate one model",
                       description="Train a model (model.name, or a genotype from a search) with BPR, "
                                   "early-stopped on validation, and evaluate it on the test split.")
    add_config_args(p)
    p.add_argument("--genotype", metavar="JSON", help="retrain the architecture in this genotype.json")
    return p


def train_and_evaluate(cfg, run, genotype_path: str | None = None) -> dict:
    """Build data and model from ``cfg``, train, evaluate on test, write the run directory."""
    from ..metrics import Evaluator
    from ..models import build_model
    from ..train import Trainer

    device = setup_torch(cfg)
    ds, graph = load_data(cfg)
    genotype = None
    if genotype_path is not None:
        from ..genotype import Genotype
        if not Path(genotype_path).is_file():
            raise UserError(f"{genotype_path}: genotype file not found")
        genotype = Genotype.load(genotype_path)
        from ..features import model_features
        model = genotype.build_model(ds, graph, **model_features(cfg, ds))
        model_name = f"genotype:{genotype.summary()}"
    else:
        model = build_model(cfg.model, ds, graph)
        model_name = cfg.model.name
    model = model.to(device)
    run.write_yaml("config.yaml", config_to_dict(cfg))
    if ds.user_ids is not None or ds.item_ids is not None:
        run.write_json("id_map.json", {"users": ds.user_ids, "items": ds.item_ids})
    evaluator = Evaluator(ds, ks=tuple(cfg.train.ks), batch_users=cfg.train.eval_batch_users)
    writer = run.writer()
    t0 = time.perf_counter()
    result = Trainer(model, ds, cfg.train, evaluator=evaluator, writer=writer).fit()
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    test = evaluator.evaluate(model, "test")
    eval_s = time.perf_counter() - t0
    for k, v in test.items():
        writer.add_scalar(f"test/{k}", v, result.epochs_run)
    metrics = {
        "model": model_name,
        **{k: float(v) for k, v in test.items()},
        "best_valid": {k: float(v) for k, v in result.best_valid.items()},
        "best_epoch": result.best_epoch,
        "epochs": result.epochs_run,
        "seconds_per_epoch": result.seconds_per_epoch,
        "train_seconds": train_s,
        "eval_seconds": eval_s,
        "dataset": ds.stats(),
    }
    extra = {"model_name": cfg.model.name if genotype is None else "genotype",
             "n_users": ds.n_users, "n_items": ds.n_items}
    if genotype is not None:
        extra["genotype"] = genotype.to_json()
    save_checkpoint(run, model, cfg, extra)
    run.write_json("metrics.json", metrics)
    run.close()
    return metrics


def run(args: argparse.Namespace) -> int:
    from ..rundir import new_run_dir
    cfg = config_from_args(args)
    run_dir = new_run_dir(args.out, cfg.name, cfg.out_dir)
    metrics = train_and_evaluate(cfg, run_dir, args.genotype)
    keys = [f"{m}@{k}" for k in cfg.train.ks for m in ("recall", "ndcg")]
    print(format_metrics({metrics["model"]: metrics}, keys))
    print(f"best epoch {metrics['best_epoch']} of {metrics['epochs']}, "
          f"{metrics['seconds_per_epoch']:.2f} s/epoch; run directory: {run_dir.path}")
    return 0
