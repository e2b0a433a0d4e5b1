"""Bundles from run directories (what ``darts-gnn export`` and ``darts-gnn recommend RUN_DIR`` use)."""
from __future__ import annotations

from pathlib import Path

from .bundle import Bundle, build_bundle
from ..engine.checkpoint import load_checkpoint, load_run
from ..config import config_to_dict

__all__ = ["bundle_from_run"]


def bundle_from_run(run_dir: str | Path, seen_splits: tuple[str, ...] = ("train", "valid", "test"),
                    explain: bool = True) -> Bundle:
    """The :class:`~darts_gnn.serve.Bundle` of a finished ``darts-gnn train`` / ``search`` run: its
    checkpoint, rebuilt on its data set (which must still be there, and the same)."""
    cfg, ds, graph, model = load_run(run_dir)
    ckpt = load_checkpoint(Path(run_dir) / "model.pt")
    genotype = getattr(model, "genotype", None) if ckpt.get("genotype") else None
    return build_bundle(model, ds, graph, config=config_to_dict(cfg), genotype=genotype,
                        seen_splits=seen_splits, explain=explain, source=str(Path(run_dir).resolve()))
