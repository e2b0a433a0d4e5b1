"""BPR training with early stopping on validation Recall@K.

One epoch walks the training interactions in shuffled mini-batches, each positive paired with one
uniformly sampled negative (:class:`darts_gnn.data.sampler.BPRSampler`). The loss of a batch is

    mean(softplus(s_neg - s_pos)) + l2 * 0.5 * (|e_u|^2 + |e_pos|^2 + |e_neg|^2) / batch

with the L2 term on the batch rows of the *ego* (layer-0) tables, as in LightGCN. Every
``eval_every`` epochs the validation metrics are computed; the best weights by validation
``recall@20`` (``recall@ks[0]`` when 20 is not in ``ks``) are kept and restored at the end, and
training stops after ``patience`` evaluations without improvement.
"""
from __future__ import annotations

import copy
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .. import distributed
from ..config import TrainConfig
from ..errors import TrainingError, UserError
from ..tasks.base import better
from ..tasks.losses import batch_loss, bpr_loss, l2_penalty
from ..tasks.metrics import Evaluator, monitor_metric
from .seed import seed_everything
from ..data.sampler import BPRSampler
from . import clock

__all__ = ["Trainer", "TrainResult", "TrainingError", "bpr_loss", "l2_penalty", "batch_loss", "resolve_device",
           "DeviceError"]


class DeviceError(UserError, RuntimeError):
    """The configured device is not available (bad input for the CLI: one line, exit code 2)."""


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when available) as a :class:`torch.device`; the one place
    that resolves ``train.device`` (:class:`DeviceError` when CUDA is asked for but absent)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("train.device: 'cuda' was asked for but no CUDA device is available; use cpu or auto")
    return torch.device(name)


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns (test metrics are the caller's business).

    ``history`` holds one record per epoch: ``epoch``, ``loss`` (mean batch loss), ``seconds``
    (training time of the epoch) and, on evaluated epochs, ``valid/<metric>@K`` and ``eval_seconds``.
    ``seconds_per_epoch`` and ``seconds_per_eval`` are medians.
    """
    best_epoch: int
    best_valid: dict[str, float]
    epochs_run: int
    seconds_per_epoch: float
    history: list[dict[str, Any]] = field(default_factory=list)
    monitor: str = "recall@20"
    stopped_early: bool = False
    seconds_per_eval: float = float("nan")


class Trainer:
    """Train a :class:`~darts_gnn.nn.Recommender` with BPR (see the module docstring).

    Args:
        model: the model; moved to ``cfg.device``.
        dataset: a :class:`~darts_gnn.data.Dataset`; batches come from its ``train`` split.
        cfg: a :class:`~darts_gnn.config.TrainConfig`.
        evaluator: validation evaluator (``.ks`` and ``.evaluate(model, "valid") -> dict``); by default
            ``Evaluator(dataset, cfg.ks, cfg.eval_batch_users)``.
            Without validation interactions there is no early stopping and the last weights are kept.
        writer: anything with TensorBoard's ``add_scalar(tag, value, step)``.
        graph: the training graph, kept as ``self.graph`` for callbacks and subclasses (the models
            hold their own reference).
        sampler: an iterable whose every pass yields one epoch of ``(users, pos, neg)`` int64 batches;
            by default ``BPRSampler(dataset, cfg.batch_size, cfg.seed)``.
        on_epoch_end: ``callback(epoch, record)`` after each epoch; returning ``True`` stops training.
        task: a :class:`~darts_gnn.tasks.Task` (``None``: ranking with BPR, as above). It supplies the
            default sampler and evaluator, the batch loss (``task.loss(model, model.task_head, batch,
            l2)``), the monitored metric and whether higher or lower is better.

    Call :func:`darts_gnn.engine.seed.seed_everything` before building the model; :meth:`fit` reseeds with
    ``cfg.seed`` so that two runs from the same initial weights give identical numbers on CPU.
    """

    def __init__(self, model, dataset, cfg: TrainConfig, evaluator: Evaluator | None = None,
                 writer=None, graph=None, sampler=None,
                 on_epoch_end: Callable[[int, dict], bool | None] | None = None, task=None):
        self.cfg = cfg
        self.task = task
        self.device = resolve_device(cfg.device)
        self.model = model.to(self.device)
        self.dataset = dataset
        self.graph = graph
        self.writer = writer
        self.on_epoch_end = on_epoch_end
        self.has_valid = len(dataset.valid) > 0
        if evaluator is None and self.has_valid:
            evaluator = (Evaluator(dataset, ks=cfg.ks, batch_users=cfg.eval_batch_users) if task is None
                         else task.evaluator(dataset, cfg))
        self.evaluator = evaluator
        ks = list(getattr(evaluator, "ks", None) or cfg.ks)
        self.monitor = monitor_metric(ks) if task is None else task.monitor_in(ks)
        if sampler is None and task is not None:
            sampler = task.sampler(dataset, cfg.batch_size, cfg.seed)
        if sampler is None:
            sampler = BPRSampler(dataset, cfg.batch_size, cfg.seed)
        self.sampler = distributed.shard_batches(sampler)  # data parallel: this rank's slice of each batch
        self.grad_sync = distributed.grad_sync()          # None in a one-process run
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)

    # ------------------------------------------------------------------ one step / one epoch
    def loss(self, *batch: torch.Tensor) -> torch.Tensor:
        """Loss of one batch (with gradients): BPR + L2 (:func:`batch_loss`) of ``(users, pos, neg)``,
        or the task's ``loss`` of its batch."""
        if self.task is not None:
            return self.task.loss(self.model, getattr(self.model, "task_head", None), batch, self.cfg.l2)
        ego = self.model.ego_embeddings() if self.cfg.l2 > 0 else None
        return batch_loss(*self.model.embeddings(), batch, self.cfg.l2, ego)

    def better(self, a: float, b: float) -> bool:
        """Whether validation score ``a`` beats ``b`` (higher recall; the task's rule when it has one)."""
        return better(a, b, self.task is None or self.task.higher_is_better)

    def train_epoch(self, epoch: int) -> float:
        """One pass over the training interactions; the mean batch loss."""
        self.model.train()
        total, n_batches = 0.0, 0
        for batch in self.sampler:
            batch = tuple(t.to(self.device, non_blocking=True) for t in batch)
            loss = self.loss(*batch)
            value = float(loss.detach())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_sync is not None:  # global-batch gradient and loss (darts_gnn.distributed)
                value = self.grad_sync.reduce(list(self.model.parameters()), len(batch[0]), [value])[1][0]
            if not math.isfinite(value):
                raise TrainingError(
                    f"training loss is {value} at epoch {epoch}, batch {n_batches + 1}: the model "
                    f"diverged; lower train.lr (now {self.cfg.lr}) or check the data and the model")
            self.optimizer.step()
            total += value
            n_batches += 1
        if n_batches == 0:
            raise TrainingError(f"epoch {epoch}: the sampler yielded no batches (empty training split?)")
        return total / n_batches

    # ------------------------------------------------------------------ the loop
    def fit(self) -> TrainResult:
        """Train up to ``cfg.epochs`` epochs with early stopping; the best weights are restored."""
        cfg = self.cfg
        old_threads = torch.get_num_threads()
        if cfg.num_threads > 0:
            torch.set_num_threads(cfg.num_threads)
        try:
            return self._fit()
        finally:
            torch.set_num_threads(old_threads)

    def _fit(self) -> TrainResult:
        cfg = self.cfg
        seed_everything(cfg.seed)
        history: list[dict[str, Any]] = []
        epoch_times: list[float] = []
        eval_times: list[float] = []
        bar = tqdm(range(1, cfg.epochs + 1), desc="train", unit="epoch",
                   disable=not (cfg.progress and distributed.is_main()),
                   dynamic_ncols=True, leave=True)
        self.partial: dict[str, Any] = {}
        try:
            return self._loop(bar, history, epoch_times, eval_times)
        except (KeyboardInterrupt, TrainingError):
            # interrupted or diverged: keep the best weights so far in the model for the caller to save
            bar.close()
            if self._best_state is not None:
                self.model.load_state_dict(self._best_state)
            self.partial = {"best_epoch": self._best[1], "best_valid": dict(self._best[2])}
            raise

    def _loop(self, bar, history, epoch_times, eval_times) -> TrainResult:
        cfg = self.cfg
        self._best, self._best_state = (-math.inf if self.task is None else self.task.worst(), 0, {}), None
        bad_evals, stopped_early, epoch = 0, False, 0
        for epoch in bar:
            start = clock.now()
            loss = self.train_epoch(epoch)
            seconds = clock.now() - start
            epoch_times.append(seconds)
            record: dict[str, Any] = {"epoch": epoch, "loss": loss, "seconds": seconds}
            self._scalar("train/loss", loss, epoch)
            self._scalar("train/epoch_seconds", seconds, epoch)
            stop = False
            if self.evaluator is not None and self.has_valid and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                improved = self._validate(epoch, record, loss, bar, eval_times)
                bad_evals = 0 if improved else bad_evals + 1
                stop = not improved and bad_evals >= cfg.patience
            else:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            history.append(record)
            if self.on_epoch_end is not None and distributed.agree(bool(self.on_epoch_end(epoch, record))):
                stop = True
            if stop:
                stopped_early = True
                break
        bar.close()
        _, best_epoch, best_valid = self._best
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        else:  # no validation: the last weights are the result
            best_epoch = epoch
        if self.writer is not None and hasattr(self.writer, "flush"):
            self.writer.flush()
        return TrainResult(
            best_epoch=best_epoch,
            best_valid=best_valid,
            epochs_run=epoch,
            seconds_per_epoch=statistics.median(epoch_times) if epoch_times else float("nan"),
            history=history,
            monitor=self.monitor,
            stopped_early=stopped_early,
            seconds_per_eval=statistics.median(eval_times) if eval_times else float("nan"),
        )

    def _validate(self, epoch: int, record: dict[str, Any], loss: float, bar, eval_times: list) -> bool:
        """Evaluate on validation into ``record``; keep the best weights. True when the monitored metric
        improved on the best so far."""
        start = clock.now()
        valid = self.evaluator.evaluate(self.model, "valid")
        record["eval_seconds"] = clock.now() - start
        eval_times.append(record["eval_seconds"])
        for name, value in valid.items():
            record[f"valid/{name}"] = value
            self._scalar(f"valid/{name}", value, epoch)
        if self.monitor not in valid:
            raise KeyError(f"the evaluator returned {sorted(valid)} but early stopping monitors "
                           f"{self.monitor!r}; include its K in the evaluator's ks")
        score = valid[self.monitor]
        improved = self.better(score, self._best[0])
        if improved:
            self._best, self._best_state = (score, epoch, dict(valid)), copy.deepcopy(self.model.state_dict())
        best_score, best_epoch = self._best[0], self._best[1]
        bar.set_postfix(loss=f"{loss:.4f}", **{self.monitor: f"{score:.4f}"},
                        best=f"{best_score:.4f}@{best_epoch}", refresh=False)
        return improved

    def _scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)
