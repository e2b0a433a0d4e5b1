r"""The bilevel search loop (DARTS) over a :class:`~darts_gnn.search.SuperNet`.

.. math::
    \min_\alpha\; L_{val}(w^*(\alpha), \alpha) \quad \text{s.t.} \quad
    w^*(\alpha) = \arg\min_w L_{train}(w, \alpha)

* ``L_train``: BPR over training interactions + ``l2`` on the batch's ego embeddings (as the Trainer).
* ``L_val``: BPR over *validation* interactions (negatives avoid the user's train and valid items) +
  the relaxation's regularizer. Message passing always uses the training graph.
* First order (``search.order == 1``, default): each step runs the supernet **once**, then takes
  :math:`\nabla_\alpha L_{val}` and :math:`\nabla_w L_{train}` from that forward pass (two backward
  passes) and steps both optimisers: Adam on α (``arch_lr``, ``arch_betas``, ``arch_weight_decay``)
  and Adam on w. Second order (``order == 2``): α gets
  :func:`darts_gnn.search.unrolled.unrolled_arch_grads`, then a separate weight step.
* The first ``warmup_epochs`` epochs train the weights only.

Determinism: batches of epoch ``e`` are a pure function of ``(seed, e)`` (see
:class:`~darts_gnn.data.BPRSampler`), so :meth:`Searcher.state_dict` needs no sampler RNG beyond the
epoch counter; ``load_state_dict`` + :meth:`Searcher.run` continue an interrupted search.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .. import distributed
from ..config import FLAT_RELAXATION_KEYS, SearchConfig, TrainConfig
from ..data.dataset import DataError
from ..data.sampler import BPRSampler, ValidSampler  # ValidSampler lives there (re-exported here)
from ..tasks.metrics import monitor_metric
from ..engine.train import batch_loss, resolve_device
from ..tasks.base import attach_head, task_of
from .architect import Architect
from .checkpoint import check_finite
from .hessian import dominant_eigenvalue
from .relax import RELAXATIONS, relaxation_options_of
from .recipe import objective_loss, plain_bpr, recipe_batch_loss, step_negatives
from ..engine import clock

__all__ = ["Searcher", "SearchResult", "ValidSampler", "EpochHook"]

#: ``hook(searcher, epoch, record)`` after every search epoch; returning ``True`` stops the search.
EpochHook = Callable[["Searcher", int, dict], "bool | None"]


@dataclass
class SearchResult:
    """What :meth:`Searcher.run` returns.

    ``history``: one record per epoch (``epoch``, ``loss/train``, ``loss/valid``, ``seconds``,
    ``valid/<metric>`` when evaluated, ``genotype``, ``probabilities``). ``trajectory``: α snapshots
    ``{"epoch", "alpha": {key: [..]}, "weights": {key: [..]}}`` (epoch -1 is the start).
    """
    genotype: Any
    history: list[dict] = field(default_factory=list)
    trajectory: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    epochs_run: int = 0
    stopped_early: bool = False
    probabilities: dict = field(default_factory=dict)


def _relax_generators(relaxation) -> list[torch.Generator]:
    g = getattr(relaxation, "generator", None)
    return [g] if isinstance(g, torch.Generator) else []


class Searcher:
    """Runs the bilevel optimisation of a :class:`~darts_gnn.search.SuperNet` (see the module doc).

    Args:
        model: the supernet (moved to ``train_cfg.device``).
        dataset: a :class:`~darts_gnn.data.Dataset` with a non-empty ``valid`` split.
        cfg: :class:`~darts_gnn.config.SearchConfig` (epochs, warm-up, α optimiser, order, ...).
        train_cfg: :class:`~darts_gnn.config.TrainConfig` (defaults for lr, batch size, l2, seed, device).
        evaluator: validation :class:`~darts_gnn.tasks.metrics.Evaluator` for the supernet (every
            ``cfg.eval_every`` epochs); ``None`` skips it.
        logger: an :class:`~darts_gnn.search.monitor.AlphaLogger` (TensorBoard), or ``None``.
        hooks: :data:`EpochHook` callables run after every epoch.
        progress: show a tqdm bar (default ``train_cfg.progress``).
        task: a :class:`~darts_gnn.tasks.Task` whose samplers and losses replace BPR (its head is
            attached to the supernet and trained with the weights); default the evaluator's task
            (:func:`~darts_gnn.tasks.task_of`), else ranking with BPR as described above.
    """

    def __init__(self, model, dataset, cfg: SearchConfig, train_cfg: TrainConfig, evaluator=None,
                 logger=None, hooks: list[EpochHook] | None = None, progress: bool | None = None, task=None):
        if len(dataset.valid) == 0:
            raise DataError(f"{dataset.name}: the search needs validation interactions for α; set "
                            f"data.valid_fraction > 0")
        self.cfg = cfg
        self.train_cfg = train_cfg
        self.device = resolve_device(train_cfg.device)
        self.model = model.to(self.device)
        self.dataset = dataset
        self.evaluator = evaluator
        self.logger = logger
        self.hooks: list[EpochHook] = list(hooks or [])
        self.progress = train_cfg.progress if progress is None else progress
        self.lr = cfg.lr if cfg.lr is not None else train_cfg.lr
        self.l2 = cfg.l2 if cfg.l2 is not None else train_cfg.l2
        self.batch_size = cfg.batch_size if cfg.batch_size is not None else train_cfg.batch_size
        self.seed = cfg.seed if cfg.seed is not None else train_cfg.seed
        self.task = task if task is not None else task_of(evaluator)
        if self.task is None:
            self.train_sampler = BPRSampler(dataset, self.batch_size, self.seed)
            self.valid_sampler = ValidSampler(dataset, self.batch_size, self.seed + 1)
        else:
            self.task.begin_search()
            attach_head(self.task, self.model, dataset)      # its weights are trained with the supernet's
            self.train_sampler = self.task.sampler(dataset, self.batch_size, self.seed)
            self.valid_sampler = self.task.valid_sampler(dataset, self.batch_size, self.seed + 1)
        self._weights = model.weights()
        head = getattr(model, "task_head", None)           # a task head may search choices of its own
        self._alphas = model.arch_parameters() + list(getattr(head, "arch_parameters", list)())
        self.w_optimizer = torch.optim.Adam(self._weights, lr=self.lr)
        self.architect = Architect(self._alphas, cfg.arch_lr, cfg.arch_betas, cfg.arch_weight_decay,
                                   order=cfg.order, unrolled_eps=cfg.unrolled_eps,
                                   generators=_relax_generators(model.relaxation))
        self.epoch = 0                       # next epoch to run (= epochs completed)
        self.seconds = 0.0                   # search wall time so far (across resumes)
        self.history: list[dict] = []
        self.trajectory: list[dict] = []
        self.stopped_early = False
        if self.task is not None:
            self.monitor = self.task.monitor_in(evaluator.ks if evaluator is not None else [20])
        else:
            self.monitor = monitor_metric(evaluator.ks) if evaluator is not None else "recall@20"
        self.objective, self._step_key = None, (0, 0)     # BPR (set_objective)
        self.grad_sync = distributed.grad_sync()  # data parallel: global-batch gradients of w and α

    # ------------------------------------------------------------------ batches and losses
    @property
    def steps_per_epoch(self) -> int:
        n = len(self.train_sampler)
        return min(n, self.cfg.max_steps_per_epoch) if self.cfg.max_steps_per_epoch else n

    def valid_batches(self, epoch: int) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        """Endless validation batches for ``epoch`` (a pure function of seed and epoch)."""
        r = 0
        while True:
            yield from self.valid_sampler.epoch(epoch * 100_003 + r)
            r += 1

    def set_objective(self, recipe=None, norm: bool = False) -> None:
        """Train w and α with ``recipe``'s objective (:func:`~darts_gnn.search.recipe.objective_loss`:
        its loss, negatives and temperature; not its lr or L2) instead of BPR, and with ``norm`` on
        L2-normalised supernet outputs (cosine scores); ``None``: BPR. A task keeps its own loss."""
        self.objective = None if plain_bpr(recipe) else recipe
        self.model.out_norm = bool(norm)

    def _negatives(self, part: int):
        epoch, step = self._step_key
        return step_negatives(self.model.n_items, self.seed, epoch, step, part)

    def train_loss_from(self, user_emb: Tensor, item_emb: Tensor, batch) -> Tensor:
        """BPR on a training batch + ``l2`` on its ego embeddings (the Trainer's loss, :func:`batch_loss`;
        :meth:`set_objective`'s objective instead of BPR); the task's training loss when there is one."""
        if self.task is not None:
            return self.task.loss_from((user_emb, item_emb), self.model, getattr(self.model, "task_head", None),
                                       batch, self.l2)
        ego = self.model.ego_embeddings() if self.l2 > 0 else None
        if self.objective is not None:
            return recipe_batch_loss(user_emb, item_emb, batch, self.objective, self._negatives(0), self.l2, ego)
        return batch_loss(user_emb, item_emb, batch, self.l2, ego)

    def valid_loss_from(self, user_emb: Tensor, item_emb: Tensor, batch) -> Tensor:
        """BPR (or :meth:`set_objective`'s objective) on a validation batch + the relaxation's
        regularizer (the α objective); the task's validation loss when there is one."""
        if self.task is not None:
            return self.task.valid_loss_from((user_emb, item_emb), self.model, getattr(self.model, "task_head", None),
                                             batch) + self.model.arch_regularizer()
        if self.objective is not None:
            return objective_loss(user_emb, item_emb, batch, self.objective, self._negatives(1)) + \
                self.model.arch_regularizer()
        return batch_loss(user_emb, item_emb, batch) + self.model.arch_regularizer()

    def train_loss(self, batch) -> Tensor:
        return self.train_loss_from(*self.model.embeddings(), batch)

    def valid_loss(self, batch) -> Tensor:
        return self.valid_loss_from(*self.model.embeddings(), batch)

    def _to(self, batch):
        return tuple(t.to(self.device, non_blocking=True) for t in batch)

    # ------------------------------------------------------------------ one step
    @property
    def arch_optimizer(self):
        """α's Adam optimiser (owned by :attr:`architect`); ``None`` when nothing is searched."""
        return self.architect.optimizer

    def step(self, batch, valid_batch=None, epoch: int = 0, step: int = 0) -> tuple[float, float | None]:
        """One weight step on ``batch`` and, given ``valid_batch``, one α step by the
        :attr:`architect` (first order: from the same forward pass; second order: unrolled, before
        the weight step). Returns the losses."""
        batch = self._to(batch)
        self._step_key = (epoch, step)          # the objective's shared negatives: a function of the step
        vloss = None
        sync = self.grad_sync
        if valid_batch is not None and self.cfg.order == 2 and self.architect.active:
            valid_batch = self._to(valid_batch)
            with torch.no_grad():
                vloss = float(self.valid_loss(valid_batch))
            if sync is not None:
                vloss = sync.reduce([], len(valid_batch[0]), [vloss], what="the validation loss")[1][0]
            self._check(vloss, "architecture (validation) loss", epoch, step)
            reduce = (None, None) if sync is None else (
                sync.reducer(len(batch[0]), "the unrolled training gradients"),
                sync.reducer(len(valid_batch[0]), "the unrolled validation gradients"))
            self.architect.unrolled_step(self._weights, lambda: self.train_loss(batch),
                                         lambda: self.valid_loss(valid_batch), lr=self.lr, reduce=reduce)
            valid_batch = None
        user_emb, item_emb = self.model.embeddings()
        loss = self.train_loss_from(user_emb, item_emb, batch)
        first_order = valid_batch is not None and self.architect.active
        if first_order:
            lv = self.valid_loss_from(user_emb, item_emb, self._to(valid_batch))
            vloss = float(lv.detach())
            self.architect.backward(lv)
        gw = torch.autograd.grad(loss, self._weights, allow_unused=True)
        for w, g in zip(self._weights, gw):
            w.grad = None if g is None else g
        tloss = float(loss.detach())
        if sync is not None:  # one all-reduce each for w (train slice) and α (valid slice)
            tloss = sync.reduce(self._weights, len(batch[0]), [tloss], what="the weight gradients")[1][0]
            if first_order:
                vloss = sync.reduce(self._alphas, len(valid_batch[0]), [vloss], what="the α gradients")[1][0]
        tloss = self._check(tloss, "training loss", epoch, step)
        if first_order:
            vloss = self._check(vloss, "architecture (validation) loss", epoch, step)
        if first_order:
            self.architect.step()
        self.w_optimizer.step()
        return tloss, vloss

    def _check(self, value, what: str, epoch: int, step: int) -> float:
        return check_finite(value, what, epoch, step)

    # ------------------------------------------------------------------ one epoch
    def train_epoch(self, epoch: int) -> dict:
        """Run search epoch ``epoch`` (0-based), evaluate and log it; returns its record."""
        start = clock.now()
        model = self.model
        model.train()
        if hasattr(model.relaxation, "set_progress"):
            model.relaxation.set_progress(epoch, self.cfg.epochs)
        arch = epoch >= self.cfg.warmup_epochs and self.architect.active
        valid_iter = iter(distributed.shard_batches(self.valid_batches(epoch))) if arch else None
        tl, vl, n = 0.0, 0.0, 0  # data parallel: this rank's slices of the global batches
        for step, batch in enumerate(distributed.shard_batches(self.train_sampler.epoch(epoch))):
            if step >= self.steps_per_epoch:
                break
            t, v = self.step(batch, next(valid_iter) if arch else None, epoch, step)
            tl += t
            vl += v if v is not None else 0.0
            n += 1
        record: dict[str, Any] = {"epoch": epoch, "arch_step": bool(arch), "loss/train": tl / max(n, 1)}
        if arch:
            record["loss/valid"] = vl / max(n, 1)
        record["seconds"] = clock.now() - start
        if self.evaluator is not None and self.cfg.eval_every and \
                ((epoch + 1) % self.cfg.eval_every == 0 or epoch + 1 == self.cfg.epochs):
            t0 = clock.now()
            for k, v in self.evaluator.evaluate(model, "valid").items():
                record[f"valid/{k}"] = float(v)
            record["eval_seconds"] = clock.now() - t0
        if arch and self.cfg.guard.every and (epoch + 1) % self.cfg.guard.every == 0:
            record["hessian/eigenvalue"] = self.dominant_eigenvalue(epoch)
        g = model.genotype()
        record["genotype"] = g.summary()
        record["probabilities"] = model.probabilities()
        self.history.append(record)
        self.trajectory.append(self.snapshot(epoch))
        if self.logger is not None:
            self.logger.log_epoch(self, epoch, record)
        return record

    def dominant_eigenvalue(self, epoch: int, iters: int | None = None) -> float:
        """Dominant eigenvalue of the Hessian of the validation loss w.r.t. α on one fixed batch
        (``search.guard.iters`` power iterations; Gumbel draws repeat across the products)."""
        batch = self._to(next(self.valid_batches(epoch)))
        iters = iters if iters is not None else self.cfg.guard.iters
        return float(dominant_eigenvalue(lambda: self.valid_loss(batch), self._alphas, iters=iters,
                                         generators=_relax_generators(self.model.relaxation)))

    def snapshot(self, epoch: int) -> dict:
        """α and its deterministic weights now, as plain lists (one trajectory point)."""
        with torch.no_grad():
            w = self.model.arch_weights(deterministic=True)
        return {"epoch": int(epoch),
                "alpha": {k: a.detach().cpu().tolist() for k, a in self.model.named_arch_parameters()},
                "weights": {k: w[k].detach().cpu().tolist() for k in self.model.choice_keys}}

    # ------------------------------------------------------------------ the loop
    def run(self, until: int | None = None) -> SearchResult:
        """Run epochs ``self.epoch .. cfg.epochs - 1`` (all of them for a fresh searcher), or only up
        to epoch ``until - 1`` when given (call again to continue)."""
        if not self.trajectory:
            self.trajectory.append(self.snapshot(-1))
            if self.logger is not None:
                self.logger.log_start(self)
        total = self.cfg.epochs
        last = total if until is None else min(total, int(until))
        bar = tqdm(total=total, initial=self.epoch, desc="search", unit="epoch",
                   disable=not (self.progress and distributed.is_main()),
                   dynamic_ncols=True)
        try:
            while self.epoch < last and not self.stopped_early:
                t0 = clock.now()
                epoch = self.epoch
                record = self.train_epoch(epoch)
                distributed.check_identical(self._alphas, f"α after search epoch {epoch}")
                self.epoch = epoch + 1
                # counted before the hooks run, so the checkpoint hook saves this epoch's time too
                self.seconds += clock.now() - t0
                stop = False
                for hook in self.hooks:
                    if hook(self, epoch, record):
                        stop = True
                stop = distributed.agree(stop, "the search's stop decision")
                post = {"loss": f"{record['loss/train']:.4f}"}
                if f"valid/{self.monitor}" in record:
                    post[self.monitor] = f"{record[f'valid/{self.monitor}']:.4f}"
                bar.set_postfix(post, refresh=False)
                bar.update(1)
                if stop:
                    self.stopped_early = True
        finally:
            bar.close()
        return self.result()

    def result(self) -> SearchResult:
        if self.task is not None and (self.epoch >= self.cfg.epochs or self.stopped_early):
            self.task.derive_head(getattr(self.model, "task_head", None))   # the search is over
        return SearchResult(genotype=self.model.genotype(), history=list(self.history),
                            trajectory=list(self.trajectory), seconds=self.seconds, epochs_run=self.epoch,
                            stopped_early=self.stopped_early, probabilities=self.model.probabilities())

    # ------------------------------------------------------------------ state (checkpoint / resume)
    def state_dict(self) -> dict:
        """Everything needed to continue: epoch, model (weights and α), both optimisers, relaxation
        state, history, trajectory, wall time. Plain tensors/numbers/strings/lists/dicts only
        (loads with ``torch.load(weights_only=True)``). Batches need no RNG state: they are a pure
        function of ``(seed, epoch)``."""
        relax = self.model.relaxation
        return {
            "epoch": int(self.epoch),
            "seed": int(self.seed),
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "w_optimizer": self.w_optimizer.state_dict(),
            "arch_optimizer": self.architect.state_dict(),
            "relaxation": relax.state_dict() if hasattr(relax, "state_dict") else {},
            "history": list(self.history),
            "trajectory": list(self.trajectory),
            "seconds": float(self.seconds),
            "stopped_early": bool(self.stopped_early),
        }

    def load_state_dict(self, state: dict) -> None:
        if int(state.get("seed", self.seed)) != self.seed:
            raise ValueError(f"the checkpoint was searched with seed {state['seed']} but this searcher uses "
                             f"{self.seed}; resume with the same seed")
        self.model.load_state_dict(state["model"])
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.architect.load_state_dict(state.get("arch_optimizer"))
        relax = self.model.relaxation
        if hasattr(relax, "load_state_dict") and state.get("relaxation"):
            relax.load_state_dict(state["relaxation"])
        self.epoch = int(state["epoch"])
        self.history = list(state.get("history", []))
        self.trajectory = list(state.get("trajectory", []))
        self.seconds = float(state.get("seconds", 0.0))
        self.stopped_early = bool(state.get("stopped_early", False))


def relaxation_options(cfg: SearchConfig, seed: int | None = None) -> dict:
    """Keyword options for ``build_relaxation(cfg.relaxation, **options)``: the flat fields
    ``tau_max``, ``tau_min``, ``tau_schedule``, ``zero_one_weight`` of ``cfg`` that the chosen
    relaxation takes (a nested ``search.relaxation`` section overrides them), plus ``seed`` (the
    search seed) when it takes one (the Gumbel generator)."""
    name = cfg.relaxation_name
    mine = set(relaxation_options_of(RELAXATIONS.get(name)))
    kw = {n: getattr(cfg, n) for n in FLAT_RELAXATION_KEYS if n in mine}
    if "seed" in mine:
        kw["seed"] = seed
    return kw
