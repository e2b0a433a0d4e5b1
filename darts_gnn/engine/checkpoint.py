"""A run's model checkpoint: save it, load it, and rebuild ``(cfg, dataset, graph, model)`` from a run
directory (what ``evaluate``, ``export`` and ``recommend`` start from)."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from ..config import Config, config_from_dict, config_to_dict, load_config
from ..data import Graph, load_dataset
from ..features import model_features
from ..nn.models import build_model
from ..space.genotype import Genotype
from ..errors import UserError
from ..store.manifest import check_dataset, make_manifest, seal
from ..tasks import attach_head, build_task
from .rundir import load_versioned, read_status
from .seed import seed_everything

__all__ = ["CHECKPOINT_FORMAT", "setup_torch", "load_data", "save_checkpoint", "load_checkpoint", "run_config",
           "load_run"]

log = logging.getLogger("darts_gnn")

CHECKPOINT_FORMAT = 1


def setup_torch(cfg: Config) -> torch.device:
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
    """Dataset and its training graph, with timing logged; a task the data cannot serve (``rating``
    without ratings) is refused here, before any run directory exists."""
    t0 = time.perf_counter()
    ds = load_dataset(cfg.data)
    task = build_task(cfg.task)
    task.check(ds)
    ds = task.prepare(ds)  # before the graph: e.g. social keeps only its training friendships
    graph = Graph.from_dataset(ds, "train")
    log.info("data: %r, graph %r (%.2f s)", ds, graph, time.perf_counter() - t0)
    return ds, graph


def save_checkpoint(run, model: torch.nn.Module, cfg: Config, extra: dict[str, Any] | None = None,
                    name: str = "model.pt", dataset=None) -> Path:
    """``model.pt``: state dict plus what is needed to rebuild the model; loads with weights_only.

    Sealed with a manifest (data-set fingerprint of ``dataset``, config hash) and a content hash
    (:func:`darts_gnn.store.manifest.seal`)."""
    cfg_dict = config_to_dict(cfg)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": cfg_dict,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    payload.update(extra or {})
    seal(payload, make_manifest("model", dataset, cfg_dict))
    return run.save_torch(name, payload)


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found (expected a run directory or its model.pt)")
    return load_versioned(path, CHECKPOINT_FORMAT, "checkpoint")


#: data/model keys that may differ between a run's config.yaml and its model.pt (where the files
#: live); any other data or model difference means config.yaml does not describe the model
_MOVABLE = ("data.path", "data.social_path")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        out.update(_flat(v, key + ".") if isinstance(v, dict) and k != "space" else {key: v})
    return out


def run_config(path: Path, ckpt: dict) -> Config:
    """The config of a run directory: ``config.yaml`` (so a moved directory works once its data
    paths are right), checked against the one stored in ``model.pt`` for the keys that define the
    model and the data; without ``config.yaml``, the stored one."""
    stored = config_from_dict(ckpt["config"])
    if not (path / "config.yaml").is_file():
        log.warning("%s: no config.yaml; using the config stored in model.pt", path)
        return stored
    cfg = load_config(path / "config.yaml")
    a, b = _flat(config_to_dict(stored)), _flat(config_to_dict(cfg))
    defining = ("data.",) if ckpt.get("genotype") else ("data.", "model.")
    diff = [k for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k) and k not in _MOVABLE and k.startswith(defining)]
    if diff:
        k = diff[0]
        raise UserError(f"{path}/config.yaml: {k} is {b.get(k)!r} but model.pt was trained with "
                        f"{a.get(k)!r}; config.yaml does not describe this model")
    return cfg


def load_run(path: str | Path):
    """Rebuild ``(cfg, dataset, graph, model)`` of a run directory from ``config.yaml`` and
    ``model.pt``; the data set must be the one the model was trained on (manifest fingerprint)."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: run directory not found")
    ckpt = load_checkpoint(path / "model.pt")
    status = read_status(path).get("status")
    if status not in (None, "done"):
        log.warning("%s: the run is marked %s; model.pt holds its best model so far", path, status)
    cfg = run_config(path, ckpt)
    setup_torch(cfg)
    ds, graph = load_data(cfg)
    check_dataset(ckpt, ds, path / "model.pt", "model")
    if (ds.n_users, ds.n_items) != (ckpt.get("n_users"), ckpt.get("n_items")):
        raise UserError(f"{path}: the data set now has {ds.n_users} users / {ds.n_items} items but the "
                        f"checkpoint was trained on {ckpt.get('n_users')} / {ckpt.get('n_items')}")
    if ckpt.get("genotype"):
        model = Genotype.from_json(ckpt["genotype"]).build_model(ds, graph, **model_features(cfg, ds))
    else:
        model = build_model(cfg.model, ds, graph)
    attach_head(build_task(cfg.task), model, ds)    # the task's head (rating decoder) is part of the model
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError) as e:
        raise UserError(f"{path}/model.pt: its weights do not fit the model config.yaml describes "
                        f"({' '.join(str(e).split())[:200]})") from None
    model.eval()
    return cfg, ds, graph, model
