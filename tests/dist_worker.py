"""What tests/test_distributed.py runs once in one process and once on each of 2 gloo ranks.

:func:`scenario` trains a LightGCN (Trainer) and searches (DARTS, first and second order) on a tiny
data set whose global batch (37 rows) splits unevenly across ranks and whose last batch is small,
and returns the losses, validation metrics, final weights and α. :func:`worker` is the
``torch.multiprocessing.spawn`` entry: it joins a file:// process group and saves its scenario.
"""
from __future__ import annotations

import torch

from darts_gnn import distributed
from darts_gnn.config import load_config
from darts_gnn.tasks.metrics import Evaluator
from darts_gnn.nn.models import build_model
from darts_gnn.search.darts import build_darts_searcher
from darts_gnn.search.strategy import SearchContext, run_strategy
from darts_gnn.engine.seed import seed_everything
from darts_gnn.engine.train import Trainer
from helpers import tiny

SETTINGS = ["train.batch_size=37", "train.progress=false", "train.eval_every=1", "train.ks=[5]",
            "train.eval_batch_users=7", "train.l2=0.0001", "model.name=lightgcn", "model.dim=8",
            "model.n_layers=2", "search.batch_size=37", "search.epochs=2", "search.warmup_epochs=0",
            "search.max_steps_per_epoch=4", "search.eval_every=1"]


def scenario() -> dict:
    torch.set_num_threads(1)
    ds, graph = tiny(0, U=40, I=50, n=700)
    out: dict = {}
    cfg = load_config(None, SETTINGS + ["train.epochs=2"])
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, ds, graph)
    res = Trainer(model, ds, cfg.train, evaluator=Evaluator(ds, ks=(5,), batch_users=7)).fit()
    out["train/loss"] = [h["loss"] for h in res.history]
    out["train/valid"] = [h["valid/recall@5"] for h in res.history]
    out["train/params"] = [p.detach().clone() for p in model.parameters()]
    for order in (1, 2):
        cfg = load_config(None, SETTINGS + [f"search.order={order}"])
        searcher = build_darts_searcher(cfg, ds, graph, evaluator=Evaluator(ds, ks=(5,), batch_users=7))
        searcher.progress = False
        r = searcher.run()
        out[f"search{order}/loss"] = [(h["loss/train"], h["loss/valid"]) for h in r.history]
        out[f"search{order}/valid"] = [h["valid/recall@5"] for h in r.history]
        out[f"search{order}/alpha"] = [a.detach().clone() for a in searcher.model.arch_parameters()]
        out[f"search{order}/genotype"] = r.genotype.summary()
    # a strategy of many short candidates: each candidate is trained data parallel
    cfg = load_config(None, SETTINGS + ["search.strategy=random", "search.random.samples=3",
                                        "search.random.child_epochs=1", "train.epochs=3"])
    found = run_strategy(SearchContext.from_config(cfg, ds, graph))
    out["random/scores"] = [h["score"] for h in found.history]
    out["random/genotype"] = found.genotype.summary()
    # a deliberately different α on rank 1 must be caught on every rank
    alpha = [a.detach().clone() for a in searcher.model.arch_parameters()]
    if distributed.rank() == 1:
        alpha[0][0] += 1e-6
    try:
        distributed.check_identical(alpha, "the perturbed α")
        out["mismatch_caught"] = False
    except distributed.DivergedRanksError as e:
        out["mismatch_caught"] = str(e)
    return out


def worker(rank: int, world: int, init_file: str, out_prefix: str) -> None:
    distributed.init(rank, world, init_method=f"file://{init_file}", backend="gloo")
    try:
        torch.save(scenario(), f"{out_prefix}{rank}.pt")
    finally:
        distributed.teardown()
