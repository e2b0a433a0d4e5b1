"""Pieces shared by the subcommands: config arguments, data set-up, checkpoints, summaries."""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import torch

from ..config import Config, config_to_dict, load_config
from ..errors import UserError
from ..rundir import load_versioned

log = logging.getLogger("darts_gnn")

CHECKPOINT_FORMAT = 1


def add_config_args(p: argparse.ArgumentParser, config_required: bool = False) -> None:
    p.add_argument("--config", "-c", required=config_required, metavar="YAML",
                   help="YAML config (default: the built-in synthetic quick-start settings)")
    p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.epochs=5 (repeatable)")
    p.add_argument("--out", "-o", metavar="RUN_DIR", help="run directory (default: runs/<name>-<time>)")


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, args.set)


def setup_torch(cfg: Config) -> torch.device:
    from ..seed import seed_everything
    if cfg.train.num_threads > 0:
        torch.set_num_threads(cfg.train.num_threads)
    seed_everything(cfg.train.seed)
    dev = cfg.train.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev == "cuda" and not torch.cuda.is_available():
        raise UserError("train.device: 'cuda' was asked for but no CUDA device is available; use cpu or auto")
    return torch.device(dev)


def load_data(cfg: Config):
    """Dataset and its training graph, with timing logged."""
    from ..data import Graph, load_dataset
    t0 = time.perf_counter()
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    log.info("data: %r, graph %r (%.2f s)", ds, graph, time.perf_counter() - t0)
    return ds, graph


def save_checkpoint(run, model: torch.nn.Module, cfg: Config, extra: dict[str, Any] | None = None,
                    name: str = "model.pt") -> Path:
    """``model.pt``: state dict plus what is needed to rebuild the model; loads with weights_only."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": config_to_dict(cfg),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    payload.update(extra or {})
    return run.save_torch(name, payload)


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found (expected a run directory or its model.pt)")
    return load_versioned(path, CHECKPOINT_FORMAT, "checkpoint")


def format_metrics(rows: dict[str, dict[str, float]], keys: list[str]) -> str:
    """A small aligned table: one row per model, one column per metric."""
    name_w = max(len("model"), *(len(r) for r in rows))
    head = "model".ljust(name_w) + "".join(f"  {k:>11}" for k in keys)
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        cells = "".join(f"  {m[k]:>11.4f}" if isinstance(m.get(k), (int, float)) else f"  {'-':>11}"
                        for k in keys)
        lines.append(name.ljust(name_w) + cells)
    return "\n".join(lines)


def load_run(path: str | Path):
    """Rebuild ``(cfg, dataset, graph, model)`` of a finished run directory from its checkpoint."""
    from ..config import config_from_dict
    from ..models import build_model
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: run directory not found")
    ckpt = load_checkpoint(path / "model.pt")
    cfg = config_from_dict(ckpt["config"])
    setup_torch(cfg)
    ds, graph = load_data(cfg)
    if (ds.n_users, ds.n_items) != (ckpt.get("n_users"), ckpt.get("n_items")):
        raise UserError(f"{path}: the data set now has {ds.n_users} users / {ds.n_items} items but the "
                        f"checkpoint was trained on {ckpt.get('n_users')} / {ckpt.get('n_items')}")
    if ckpt.get("genotype"):
        from ..genotype import Genotype
        from ..features import model_features
        model = Genotype.from_json(ckpt["genotype"]).build_model(ds, graph, **model_features(cfg, ds))
    else:
        model = build_model(cfg.model, ds, graph)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return cfg, ds, graph, model
