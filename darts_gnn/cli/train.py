"""``darts-gnn train``: train and evaluate one model (a baseline or a saved genotype)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..config import config_to_dict
from ..errors import UserError
from .common import (add_config_args, check_splits, config_from_args, format_metrics, load_data, save_checkpoint,
                     setup_torch)
from ..space.genotype import Genotype
from ..engine.train import Trainer, TrainingError
from ..nn.models import build_model
from ..features import model_features
from ..search.recipe import recipe_train_config, RecipeTrainer
from ..engine.rundir import open_run
from ..engine.trial import fit_and_evaluate
from ..tasks import config_evaluator, task_of


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train and evaluate one model",
                       description="Train a model (model.name, or a genotype from a search) with BPR, "
                                   "early-stopped on validation, and evaluate it on the test split.")
    add_config_args(p)
    p.add_argument("--genotype", metavar="JSON", help="retrain the architecture in this genotype.json")
    return p


def _load_genotype(genotype_path: str | None):
    if genotype_path is None:
        return None
    if not Path(genotype_path).is_file():
        raise UserError(f"{genotype_path}: genotype file not found")
    return Genotype.load(genotype_path)


def _trainer_factory(genotype, made: list):
    """The Trainer class for ``fit_and_evaluate`` (the genotype's recipe trainer when it has a recipe);
    each trainer made is appended to ``made`` (for its ``partial`` state after an interruption)."""
    recipe = genotype.recipe if genotype is not None else None

    def make(model, dataset, cfg, **kw):
        trainer = RecipeTrainer(model, dataset, cfg, recipe=recipe, **kw) if recipe is not None else \
            Trainer(model, dataset, cfg, **kw)
        made.append(trainer)
        return trainer
    return make


def _save_partial(made: list, run, cfg, extra: dict, ds) -> None:
    """After an interruption or a divergence past a best epoch: that model to ``model.pt``, marked partial."""
    partial = (getattr(made[-1], "partial", None) or {}) if made else {}
    if partial.get("best_epoch"):
        save_checkpoint(run, made[-1].model, cfg, {**extra, "partial": True, "best_epoch": partial["best_epoch"]},
                        dataset=ds)


def train_and_evaluate(cfg, run, genotype_path: str | None = None, *, dataset=None, graph=None,
                       genotype=None) -> dict:
    """Build data and model from ``cfg``, train, evaluate on test, write the run directory."""
    device = setup_torch(cfg)
    ds, graph = (dataset, graph) if dataset is not None else load_data(cfg)
    check_splits(ds)
    genotype = genotype if genotype is not None else _load_genotype(genotype_path)
    if genotype is not None:
        def build():
            return genotype.build_model(ds, graph, **model_features(cfg, ds)).to(device)
        model_name = f"genotype:{genotype.summary()}"
    else:
        def build():
            return build_model(cfg.model, ds, graph).to(device)
        model_name = cfg.model.name
    run.write_yaml("config.yaml", config_to_dict(cfg))
    if ds.user_ids is not None or ds.item_ids is not None:
        run.write_json("id_map.json", {"users": ds.user_ids, "items": ds.item_ids})
    evaluator = config_evaluator(cfg, ds)
    task = task_of(evaluator)          # None for ranking (BPR); else its head joins the model
    writer = run.writer()
    extra = {"model_name": cfg.model.name if genotype is None else "genotype",
             "n_users": ds.n_users, "n_items": ds.n_items}
    if genotype is not None:
        extra["genotype"] = genotype.to_json()
    tcfg = cfg.train  # the genotype's own lr / L2 / objective when it has a recipe
    if genotype is not None and genotype.recipe is not None:
        tcfg = recipe_train_config(cfg.train, genotype.recipe)
    made: list = []
    try:  # the model is saved before testing: an interruption keeps it
        trial = fit_and_evaluate(build, ds, tcfg, evaluator, splits=("test",), writer=writer, task=task,
                                 trainer=_trainer_factory(genotype, made),
                                 after_fit=lambda model, _: save_checkpoint(run, model, cfg, extra, dataset=ds))
    except (KeyboardInterrupt, TrainingError):
        _save_partial(made, run, cfg, extra, ds)
        raise
    result, test = trial.train, trial.metrics["test"]
    for k, v in test.items():
        writer.add_scalar(f"test/{k}", v, result.epochs_run)
    metrics = {
        "model": model_name,
        **test,
        "best_valid": {k: float(v) for k, v in result.best_valid.items()},
        "best_epoch": result.best_epoch,
        "epochs": result.epochs_run,
        "seconds_per_epoch": result.seconds_per_epoch,
        "train_seconds": trial.fit_seconds,
        "eval_seconds": trial.eval_seconds,
        "dataset": ds.stats(),
    }
    run.write_json("metrics.json", metrics)
    run.close()
    return metrics


def run(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    setup_torch(cfg)
    # everything that can be refused is checked before the run directory exists
    ds, graph = load_data(cfg)
    check_splits(ds)
    genotype = _load_genotype(args.genotype)
    with open_run(args.out, cfg.name, cfg.out_dir, command="train", overwrite=args.overwrite) as run_dir:
        model_pt = run_dir.file("model.pt")
        args._interrupt_hint = lambda: (f"run directory {run_dir.path} is marked interrupted; its model.pt holds "
                                        f"the best model so far") if model_pt.is_file() else None
        metrics = train_and_evaluate(cfg, run_dir, dataset=ds, graph=graph, genotype=genotype)
    keys = [f"{m}@{k}" for k in cfg.train.ks for m in ("recall", "ndcg")]
    if cfg.task.name != "ranking":    # the task's own metrics (rating: rmse, mae, mse)
        keys = [k for k, v in metrics.items() if isinstance(v, float) and k in metrics["best_valid"]]
    print(format_metrics({metrics["model"]: metrics}, keys))
    print(f"best epoch {metrics['best_epoch']} of {metrics['epochs']}, "
          f"{metrics['seconds_per_epoch']:.2f} s/epoch; run directory: {run_dir.path}")
    return 0
