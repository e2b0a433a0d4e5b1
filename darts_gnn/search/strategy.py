r"""The search-strategy interface: one result type, one budget, dispatch by name.

A strategy turns a :class:`SearchContext` (config, data, training graph, validation evaluator, run
directory, ...) into a :class:`StrategyResult`: the chosen genotype, a ranked pool of candidates, and
its cost as wall seconds **and** trained epochs (supernet epochs + candidate-training epochs).
Strategies are registered by name (``search.strategy`` in the config is checked against the registry
at load) and run with :func:`run_strategy`:

.. code-block:: python

    from darts_gnn.search.strategy import SearchContext, run_strategy
    result = run_strategy(SearchContext.from_config(cfg))   # cfg.search.strategy: darts|random|evolution|rl
    result.genotype, result.candidates[:3], result.seconds, result.epochs

Writing one: subclass :class:`SearchStrategy`, implement :meth:`~SearchStrategy.search`, decorate
with :func:`register_strategy` (see ``docs/strategies.md``). Strategies that train candidates use
:class:`CandidateScorer` (short training on train, Recall@20 on validation, the budget kept by a
:class:`BudgetLedger`); the test split is never used to choose.
"""
from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import distributed, registries
from ..config import Config, TrainConfig
from ..data import Graph, load_dataset
from ..errors import UserError
from ..space.genotype import Genotype
from ..tasks.metrics import Evaluator, monitor_metric
from ..space.registry import SearchSpace
from ..engine.trial import fit_and_evaluate, short_train_config
from ..tasks.base import build_task, config_evaluator, signed, task_of
from ..engine import clock

__all__ = ["SearchStrategy", "StrategyResult", "SearchContext", "Budget", "BudgetLedger",
           "CandidateScorer", "register_strategy", "get_strategy", "strategy_names", "run_strategy"]


@dataclass
class Budget:
    """A search budget: wall ``seconds`` and/or trained ``epochs`` (``None``: unlimited)."""
    seconds: float | None = None
    epochs: int | None = None

    @property
    def limited(self) -> bool:
        return self.seconds is not None or self.epochs is not None

    def exhausted(self, seconds: float, epochs: int) -> bool:
        """Whether the budget is spent (data parallel: rank 0's clock decides for every rank)."""
        return ((self.seconds is not None and distributed.agree(seconds >= self.seconds))
                or (self.epochs is not None and epochs >= self.epochs))


class BudgetLedger:
    """Counts a search's wall seconds (from construction) and trained epochs against a :class:`Budget`."""

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self.start = clock.now()
        self.epochs = 0

    @property
    def seconds(self) -> float:
        return clock.now() - self.start

    def add_epochs(self, n: int) -> None:
        self.epochs += int(n)

    def exhausted(self) -> bool:
        return self.budget.exhausted(self.seconds, self.epochs)

    def remaining_seconds(self) -> float | None:
        return None if self.budget.seconds is None else max(0.0, self.budget.seconds - self.seconds)


@dataclass
class StrategyResult:
    """What every strategy returns.

    ``genotype``: the chosen architecture. ``candidates``: a ranked pool, best first, ``genotype``
    included (for a later validated selection). ``seconds``: wall time of the search. ``epochs``:
    trained epochs (supernet epochs + candidate-training epochs). ``history``: one record per epoch
    or per candidate. ``extra``: strategy-specific values (α trajectory, population, controller ...).
    """
    genotype: Genotype
    candidates: list[Genotype]
    seconds: float
    epochs: int
    history: list[dict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.candidates or self.genotype not in self.candidates:
            self.candidates = [self.genotype] + [g for g in self.candidates if g != self.genotype]

    @property
    def epochs_run(self) -> int:
        """``epochs`` under the name :class:`~darts_gnn.search.SearchResult` uses (for reports that
        take either)."""
        return self.epochs

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (objects in ``extra`` that are not plain data are left out)."""
        plain = (str, int, float, bool, type(None), list, dict)
        return {"genotype": self.genotype.to_dict(), "candidates": [g.to_dict() for g in self.candidates],
                "seconds": float(self.seconds), "epochs": int(self.epochs), "history": self.history,
                "extra": {k: v for k, v in self.extra.items() if isinstance(v, plain)}}


@dataclass
class SearchContext:
    """Everything a strategy may use. ``evaluator`` evaluates the validation split (and the test split
    only after the search, never inside it); ``run`` / ``writer`` are optional (a
    :class:`~darts_gnn.engine.rundir.RunDir`, TensorBoard-like ``add_scalar``); ``hooks`` are per-epoch
    callbacks of the DARTS searcher; ``resume`` continues from ``run``'s checkpoint where supported."""
    cfg: Config
    dataset: Any
    graph: Any
    evaluator: Evaluator
    run: Any = None
    writer: Any = None
    progress: bool = False
    hooks: list = field(default_factory=list)
    resume: bool = False

    @classmethod
    def from_config(cls, cfg: Config, dataset=None, graph=None, **kw) -> "SearchContext":
        """Load the data set (unless given), build its training graph and the evaluator."""
        dataset = dataset if dataset is not None else load_dataset(cfg.data)
        if graph is None:  # the task's data preparation first (social: only training friendships)
            dataset = build_task(cfg.task).prepare(dataset)
            graph = Graph.from_dataset(dataset, "train")
        ks = sorted({*cfg.train.ks, 20})
        return cls(cfg, dataset, graph, config_evaluator(cfg, dataset, ks), **kw)

    @property
    def seed(self) -> int:
        s = self.cfg.search
        return int(s.seed if s.seed is not None else self.cfg.train.seed)

    @property
    def budget(self) -> Budget:
        return Budget(self.cfg.search.budget_seconds, self.cfg.search.budget_epochs)

    def space(self) -> SearchSpace:
        return SearchSpace.for_run(self.cfg)


class SearchStrategy(abc.ABC):
    """Base class of search strategies: ``Strategy(ctx).search() -> StrategyResult``.

    ``name`` is set by :func:`register_strategy`; ``section`` names the strategy's own config section
    (``search.<section>``), if any.
    """
    name: ClassVar[str] = "base"
    #: whether :meth:`search` can continue from ``ctx.run``'s checkpoint when ``ctx.resume`` is set
    supports_resume: ClassVar[bool] = False

    def __init__(self, ctx: SearchContext) -> None:
        if ctx.resume and not self.supports_resume:
            raise UserError(f"search.strategy {self.name!r} cannot resume an interrupted search; "
                            f"start it again without --resume")
        self.ctx = ctx

    @property
    def options(self) -> Any:
        """The strategy's config section: ``search.<name>`` when ``SearchConfig`` has it, else
        ``search.options`` parsed into the registered options dataclass (``None`` when it has none)."""
        s = self.ctx.cfg.search
        if dataclasses.is_dataclass(getattr(s, self.name, None)):
            return getattr(s, self.name)
        opts = registries.STRATEGIES.options(self.name)
        return opts(**s.options) if opts is not None else None

    @abc.abstractmethod
    def search(self) -> StrategyResult:
        """Run the search within ``self.ctx.budget``; never look at the test split."""


def register_strategy(name: str, cls: type[SearchStrategy] | None = None, *, options: type | None = None,
                      replace: bool = False):
    """Register a :class:`SearchStrategy` subclass under ``name`` (usable as a class decorator).
    ``options``: a dataclass for its settings, read from ``search.options`` (checked at load) when
    ``SearchConfig`` has no ``search.<name>`` section."""
    def deco(c: type[SearchStrategy]) -> type[SearchStrategy]:
        if not (isinstance(c, type) and issubclass(c, SearchStrategy)):
            raise TypeError(f"register_strategy({name!r}): expected a SearchStrategy subclass, got {c!r}")
        c.name = name
        registries.STRATEGIES.register(name, c, options=options, replace=replace)
        return c
    return deco(cls) if cls is not None else deco


def get_strategy(name: str) -> type[SearchStrategy]:
    """The strategy class registered as ``name`` (``ValueError`` listing the registered names)."""
    return registries.STRATEGIES.get(name)


def strategy_names() -> tuple[str, ...]:
    return registries.STRATEGIES.names()


def run_strategy(ctx: SearchContext, name: str | None = None) -> StrategyResult:
    """Run the strategy ``name`` (default ``ctx.cfg.search.strategy``) on ``ctx``."""
    return get_strategy(name or ctx.cfg.search.strategy)(ctx).search()


class CandidateScorer:
    """Scores genotypes for candidate-training strategies: a short training (``epochs`` epochs on the
    training split, the search's lr / batch size / l2, seeded with the search seed, so candidates
    differ only by architecture) and the monitored metric (Recall@20) on **validation**. Counts every
    trained epoch in ``ledger``; a genotype seen before is not retrained (its record is returned)."""

    def __init__(self, ctx: SearchContext, ledger: BudgetLedger, epochs: int | None = None,
                 train_cfg: TrainConfig | None = None, on_record: Callable[[dict], None] | None = None) -> None:
        if len(ctx.dataset.valid) == 0:
            raise ValueError("the search needs validation interactions to score candidates; "
                             "set data.valid_fraction > 0")
        if (epochs is None) == (train_cfg is None):
            raise ValueError("CandidateScorer: give exactly one of epochs and train_cfg")
        self.ctx = ctx
        self.ledger = ledger
        self.cfg = train_cfg if train_cfg is not None else short_train_config(ctx.cfg, epochs)
        task = task_of(ctx.evaluator)
        self.monitor = monitor_metric(ctx.evaluator.ks) if task is None else task.monitor_in(ctx.evaluator.ks)
        self.records: list[dict] = []
        self.genotypes: list[Genotype] = []
        self._seen: dict[Genotype, dict] = {}
        self.on_record = on_record

    def score(self, genotype: Genotype, budget_seconds: float | None = None) -> dict:
        """Train and score ``genotype``; returns its record (``score`` is ``-inf`` for a NaN metric;
        the monitored metric, negated when the task prefers lower values, e.g. ``-rmse``)."""
        if genotype in self._seen:
            return self._seen[genotype]
        ctx = self.ctx
        out = fit_and_evaluate(lambda: genotype.build_model(ctx.dataset, ctx.graph), ctx.dataset, self.cfg,
                               ctx.evaluator, graph=ctx.graph, seed=ctx.seed, splits=("valid",),
                               budget_seconds=budget_seconds, task=task_of(ctx.evaluator))
        self.ledger.add_epochs(out.epochs)
        score = signed(ctx.evaluator, float(out.metrics["valid"][self.monitor]))   # larger is better
        record = {"index": len(self.records), "genotype": genotype.to_dict(), "summary": genotype.summary(),
                  "valid": out.metrics["valid"], "score": score if math.isfinite(score) else -math.inf,
                  "epochs": out.epochs, "train_seconds": out.train_seconds, "seconds": out.seconds,
                  "search_seconds": self.ledger.seconds, "search_epochs": self.ledger.epochs}
        self.records.append(record)
        self.genotypes.append(genotype)
        self._seen[genotype] = record
        if ctx.writer is not None:
            ctx.writer.add_scalar(f"search/valid_{self.monitor}", record["score"], record["index"])
        if self.on_record is not None:
            self.on_record(record)
        return record

    def ranked(self) -> list[Genotype]:
        """Distinct scored genotypes, best validation score first (ties: scored earlier first)."""
        order = sorted(self.records, key=lambda r: (-r["score"], r["index"]))
        return [self.genotypes[r["index"]] for r in order]

    def result(self, history: list[dict] | None = None, **extra: Any) -> StrategyResult:
        """The :class:`StrategyResult` of the records so far (best validation score first)."""
        ranked = self.ranked()
        if not ranked:
            raise RuntimeError("the search scored no candidate; raise its budget or counts")
        return StrategyResult(ranked[0], ranked, self.ledger.seconds, self.ledger.epochs,
                              history if history is not None else list(self.records),
                              {"monitor": self.monitor, **extra})
