r"""One trial of a model: seed -> build -> fit -> time -> evaluate, shared by every search strategy,
the comparison and the retraining of a found architecture.

.. code-block:: python

    from darts_gnn.engine.trial import fit_and_evaluate
    out = fit_and_evaluate(lambda: genotype.build_model(dataset, graph), dataset, cfg.train,
                           evaluator, graph=graph, splits=("test",))
    out.metrics["test"]["recall@20"], out.seconds, out.epochs

The model is built right after ``seed_everything(seed)`` (so its initial weights are a function of the
seed) and trained by the :class:`~darts_gnn.engine.train.Trainer` (BPR + L2, early stop on validation
Recall@20, best weights restored). ``budget_seconds`` stops the training once that many seconds of
epochs have run (the epoch in progress finishes). Validation metrics are the Trainer's best ones when
it evaluated, else one evaluation after training.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, TrainConfig
from ..tasks.metrics import Evaluator
from .seed import seed_everything
from ..tasks.base import attach_head
from .train import Trainer, TrainResult
from . import clock

__all__ = ["TrialResult", "fit_and_evaluate", "short_train_config", "EpochDeadline"]


class EpochDeadline:
    """``Trainer`` ``on_epoch_end`` callback: stop once ``seconds`` of epoch time have been used."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.used = 0.0

    def __call__(self, epoch: int, record: dict) -> bool:
        self.used += float(record.get("seconds", 0.0))
        return self.used >= self.seconds


@dataclass
class TrialResult:
    """What :func:`fit_and_evaluate` returns.

    ``metrics``: ``{split: {metric: value}}`` for the requested splits (``"valid"``: the Trainer's
    best validation metrics); ``seconds``: wall time of build + fit + evaluation; ``train_seconds``:
    the epochs' own time; ``fit_seconds``: wall time of the fit alone (validation included);
    ``eval_seconds``: the final evaluation of ``splits``; ``epochs``: epochs trained.
    """
    model: Any
    train: TrainResult
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    train_seconds: float = 0.0
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return int(self.train.epochs_run)

    def score(self, split: str = "valid") -> float:
        """The monitored metric (Recall@20, or Recall@K for the first K) on ``split``."""
        return float(self.metrics[split][self.train.monitor])


def fit_and_evaluate(build: Callable[[], Any], dataset, cfg: TrainConfig, evaluator: Evaluator | None = None,
                     graph=None, seed: int | None = None, splits: Sequence[str] = ("test",),
                     budget_seconds: float | None = None, writer=None, task=None,
                     trainer: Callable[..., Trainer] = Trainer,
                     after_fit: Callable[[Any, TrainResult], None] | None = None) -> TrialResult:
    """Seed, build, train and evaluate one model (see the module docstring).

    Args:
        build: ``() -> Recommender``, called right after seeding.
        dataset, graph: the data set and its training graph.
        cfg: the training settings (its ``seed`` seeds the batches; ``seed`` overrides it).
        evaluator: validation/test evaluator (default ``Evaluator(dataset, cfg.ks)``).
        splits: the splits to report in ``metrics`` (``"valid"``, ``"test"``).
        budget_seconds: stop training after this many seconds of epochs.
        writer: TensorBoard-like ``add_scalar`` for the Trainer.
        task: a :class:`~darts_gnn.tasks.Task` (``None``: ranking): its head is attached to the built
            model (``model.task_head``), its loss trains it and its evaluator is the default.
        trainer: the Trainer class (or a factory with its signature), e.g. a recipe's trainer.
        after_fit: ``(model, TrainResult)``, called between training and evaluation (to save the model).
    """
    if seed is not None and seed != cfg.seed:
        cfg = dataclasses.replace(cfg, seed=int(seed))
    if evaluator is None:
        evaluator = (Evaluator(dataset, ks=cfg.ks, batch_users=cfg.eval_batch_users) if task is None
                     else task.evaluator(dataset, cfg))
    t0 = clock.now()
    seed_everything(cfg.seed)
    model = build()
    if task is not None:
        attach_head(task, model, dataset)
    deadline = EpochDeadline(budget_seconds) if budget_seconds is not None else None
    t_fit = clock.now()
    res = trainer(model, dataset, cfg, evaluator=evaluator, writer=writer, graph=graph,
                  on_epoch_end=deadline, task=task).fit()
    fit_seconds = clock.now() - t_fit
    if after_fit is not None:
        after_fit(model, res)
    t_eval = clock.now()
    metrics: dict[str, dict[str, float]] = {}
    for split in splits:
        if split == "valid" and res.best_valid:
            values = res.best_valid
        else:
            values = evaluator.evaluate(model, split)
        metrics[split] = {k: float(v) for k, v in values.items()}
    eval_seconds = clock.now() - t_eval
    return TrialResult(model, res, metrics, clock.now() - t0,
                       float(sum(r["seconds"] for r in res.history)), fit_seconds, eval_seconds)


def short_train_config(cfg: Config, epochs: int) -> TrainConfig:
    """The training settings of a short candidate training inside a search: ``epochs`` epochs with the
    search's ``lr`` / ``batch_size`` / ``l2`` (as the supernet's weights; ``train``'s when null), one
    validation evaluation at the end, no progress bar."""
    s = cfg.search
    return dataclasses.replace(
        cfg.train, epochs=int(epochs), eval_every=int(epochs) + 1, progress=False,
        lr=s.lr if s.lr is not None else cfg.train.lr,
        batch_size=s.batch_size if s.batch_size is not None else cfg.train.batch_size,
        l2=s.l2 if s.l2 is not None else cfg.train.l2,
        seed=s.seed if s.seed is not None else cfg.train.seed)
