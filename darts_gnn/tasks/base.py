r"""The task interface: what a run learns and how it is measured.

A :class:`Task` owns everything that differs between recommendation jobs while the search space,
supernet, strategies, genotype and retraining stay shared:

* the batches of one epoch (:meth:`Task.sampler`, :meth:`Task.valid_sampler`),
* the training loss (the weights step) and the validation loss (the α step of bilevel DARTS),
* extra trained parameters on top of the final embeddings (:meth:`Task.head`: a decoder, biases),
* the metrics (:meth:`Task.evaluator`) and which one early stopping, derivation, the strategies and
  the selection stage follow (:attr:`Task.monitor`, :attr:`Task.higher_is_better`, :meth:`Task.better`).

The head is attached to the model as the submodule ``task_head`` (:func:`attach_head`), so the
optimiser, checkpoints and every evaluator see it; a task's evaluator reads ``model.task_head``.
Tasks register with :func:`register_task` and are chosen by the config section
``task: {name: ..., <task keys>}`` (:class:`~darts_gnn.config.TaskConfig` or the subclass the task
registered as its options).

.. code-block:: python

    from darts_gnn.tasks import build_task
    task = build_task(cfg.task)               # cfg.task.name == "ranking" -> RankingTask
    task.monitor, task.better(0.12, 0.10)     # ('recall@20', True)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable

import torch

from ..config import TaskConfig
from ..errors import UserError
from ..registries import TASKS

__all__ = ["Task", "TaskError", "register_task", "build_task", "attach_head", "task_head", "task_of",
           "config_evaluator", "signed", "better"]


def better(a: float, b: float, higher_is_better: bool = True) -> bool:
    """Whether score ``a`` is strictly better than ``b`` (higher or lower is better; a NaN never is,
    and any number beats a NaN): the one comparison that early stopping, selection and strategies use."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if higher_is_better else a < b


class TaskError(UserError, ValueError):
    """A task that cannot run on the given data (e.g. ``rating`` without ratings): one line, exit 2."""


class Task:
    """Base class of a task (one instance per run, built from the ``task`` config section).

    Subclasses set :attr:`monitor` and :attr:`higher_is_better` (``name`` comes from
    :func:`register_task`) and implement :meth:`sampler`, :meth:`loss_from`, :meth:`valid_sampler`,
    :meth:`valid_loss_from` and :meth:`evaluator` (:meth:`loss` / :meth:`valid_loss` run the model
    once and call them).
    A batch is a tuple of tensors (each moved to the device by the caller).
    """

    name: str = ""
    #: the validation metric that early stopping / selection / strategies follow
    monitor: str = ""
    #: ``True`` when a larger ``monitor`` is better (recall), ``False`` when smaller is (rmse)
    higher_is_better: bool = True

    def __init__(self, cfg: TaskConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else TaskConfig(name=self.name)

    # ------------------------------------------------------------------ data
    def check(self, dataset) -> None:
        """Raise :class:`TaskError` naming what ``dataset`` lacks for this task (default: nothing)."""

    def prepare(self, dataset):
        """Task-specific preparation of the data set (a split, an extra graph); default: identity."""
        return dataset

    # ------------------------------------------------------------------ model
    def head(self, dataset, dim: int) -> torch.nn.Module | None:
        """Extra trained parameters over final embeddings of width ``dim`` (default: none)."""
        return None

    def begin_search(self) -> None:
        """Called by the DARTS searcher before it builds the supernet's head: heads built until
        :meth:`derive_head` may carry architecture logits of their own (``head.arch_parameters()``)."""

    def summary(self) -> dict[str, Any]:
        """What a run reports about its task (``metrics.json``): the name and any searched choices."""
        return {"name": self.name, "monitor": self.monitor}

    def derive_head(self, head) -> None:
        """Called when the search ends with the supernet's head: fix the head's searched choices
        (e.g. argmax of the decoder logits) for every model built afterwards. Default: nothing."""

    # ------------------------------------------------------------------ training
    def sampler(self, dataset, batch_size: int, seed: int) -> Iterable[tuple[torch.Tensor, ...]]:
        """Training batches: one pass over the returned iterable is one epoch."""
        raise NotImplementedError

    def loss(self, model, head, batch: tuple[torch.Tensor, ...], l2: float) -> torch.Tensor:
        """Training loss of one batch (with gradients), ``l2`` regularisation included:
        :meth:`loss_from` of one forward pass ``model.embeddings()``."""
        return self.loss_from(model.embeddings(), model, head, batch, l2)

    def loss_from(self, emb: tuple[torch.Tensor, torch.Tensor], model, head,
                  batch: tuple[torch.Tensor, ...], l2: float) -> torch.Tensor:
        """:meth:`loss` from final embeddings ``emb = (users [U, d], items [I, d])`` already computed
        (the first-order searcher takes both losses from one forward pass). A task that overrides only
        :meth:`loss` gets it here, at the cost of a second forward pass."""
        if type(self).loss is not Task.loss:
            return self.loss(model, head, batch, l2)
        raise NotImplementedError(f"{type(self).__name__}: implement loss_from (or loss)")

    def valid_sampler(self, dataset, batch_size: int, seed: int) -> Iterable[tuple[torch.Tensor, ...]]:
        """Batches of the validation split (the α step of bilevel search); the sampler has
        ``epoch(e)`` (the batches of epoch ``e``, a pure function of ``seed`` and ``e``)."""
        raise NotImplementedError

    def valid_loss(self, model, head, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Validation loss of one batch (no regularisation): the objective of α."""
        return self.valid_loss_from(model.embeddings(), model, head, batch)

    def valid_loss_from(self, emb: tuple[torch.Tensor, torch.Tensor], model, head,
                        batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """:meth:`valid_loss` from final embeddings already computed (falls back to an overridden
        :meth:`valid_loss`)."""
        if type(self).valid_loss is not Task.valid_loss:
            return self.valid_loss(model, head, batch)
        raise NotImplementedError(f"{type(self).__name__}: implement valid_loss_from (or valid_loss)")

    # ------------------------------------------------------------------ evaluation
    def evaluator(self, dataset, cfg) -> Any:
        """An object with ``.ks`` and ``.evaluate(model, split) -> {metric: value}``; ``cfg`` is the
        :class:`~darts_gnn.config.TrainConfig` (ks, evaluation batch size)."""
        raise NotImplementedError

    def monitor_in(self, ks) -> str:
        """The monitored metric for an evaluator with cut-offs ``ks`` (default: :attr:`monitor`)."""
        return self.monitor

    def better(self, a: float, b: float) -> bool:
        """Whether score ``a`` is strictly better than ``b`` under :attr:`monitor` (NaN never is)."""
        return better(a, b, self.higher_is_better)

    def worst(self) -> float:
        """A score every finite score beats (``-inf`` or ``+inf``)."""
        return -math.inf if self.higher_is_better else math.inf

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cfg!r})"


def register_task(name: str, options: type | None = None, replace: bool = False):
    """Class decorator: register a :class:`Task` subclass under ``name``; ``options`` is its config
    section type (a :class:`~darts_gnn.config.TaskConfig` subclass; default: ``TaskConfig``)."""
    def deco(cls: type) -> type:
        cls.name = name
        TASKS.register(name, cls, options=options or TaskConfig, replace=replace)
        return cls
    return deco


def build_task(cfg: TaskConfig | str | None = None) -> Task:
    """The task of a config section (or a name; ``None``: ``ranking``)."""
    if cfg is None:
        cfg = TaskConfig()
    if isinstance(cfg, str):
        opts = TASKS.options(cfg) or TaskConfig
        cfg = opts(name=cfg)
    return TASKS.get(cfg.name)(cfg)


def attach_head(task: Task, model, dataset) -> torch.nn.Module | None:
    """Build ``task.head`` for ``model``'s final embedding width and register it as
    ``model.task_head`` (so optimisers and checkpoints include it); returns it (``None``: no head,
    the model is untouched)."""
    if getattr(model, "task_head", None) is not None:
        return model.task_head
    if type(task).head is Task.head:      # no head: no forward pass, the model is left as it is
        return None
    was_training = model.training
    model.eval()
    with torch.no_grad():
        dim = int(model.embeddings()[0].shape[1])
    model.train(was_training)
    head = task.head(dataset, dim)
    if head is not None:
        model.add_module("task_head", head.to(next(model.parameters()).device))
    return head


def task_head(model) -> torch.nn.Module | None:
    """``model.task_head`` or ``None``."""
    return getattr(model, "task_head", None)


def task_of(evaluator) -> Task | None:
    """The task an evaluator belongs to (``evaluator.task``), ``None`` for the plain ranking
    :class:`~darts_gnn.tasks.metrics.Evaluator`: code that only receives an evaluator (selection, candidate
    scoring) learns the monitored metric, its direction and the training loss from it."""
    return getattr(evaluator, "task", None)


def config_evaluator(cfg, dataset, ks=None):
    """The evaluator of a run: ``build_task(cfg.task)`` checked against ``dataset``, its evaluator under
    ``cfg.train`` (cut-offs ``ks`` when given). For ``ranking`` this is the plain
    :class:`~darts_gnn.tasks.metrics.Evaluator` the pipeline always used."""
    task = build_task(cfg.task)
    task.check(dataset)
    train = cfg.train if ks is None else dataclasses.replace(cfg.train, ks=[int(k) for k in ks])
    return task.evaluator(dataset, train)


def signed(evaluator, value: float) -> float:
    """``value`` of the evaluator's monitored metric as a score where larger is better (negated when
    the evaluator's task prefers lower values): what strategies rank and reward by."""
    task = task_of(evaluator)
    return value if task is None or task.higher_is_better else -value
