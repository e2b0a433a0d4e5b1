r"""DARTS as a search strategy: bilevel supernet search, then a derivation of the genotype.

``search.strategy: darts`` (the default). The :class:`~darts_gnn.search.Searcher` trains the
supernet's weights on training BPR and, through its :class:`~darts_gnn.search.architect.Architect`,
α on validation BPR for ``search.epochs`` epochs (fewer when ``search.budget_seconds`` /
``search.budget_epochs`` run out first); the registered derivation ``search.derive`` (``argmax`` of α
per choice, or ``greedy`` by the supernet's validation Recall@20) gives the genotype. The result's
``candidates`` are the derived genotype and, when it differs, the argmax genotype; ``epochs`` counts
supernet epochs; ``seconds`` includes the derivation. ``extra`` holds the α ``trajectory``, the final
``probabilities``, the ``argmax`` genotype, the ``derive_trace`` and the trained ``supernet``.
"""
from __future__ import annotations

import logging

from .. import registries
from ..config import Config
from ..engine.seed import seed_everything
from ..space.registry import SearchSpace
from .checkpoint import attach_checkpointing
from .derive import greedy_genotype
from .monitor import AlphaLogger
from .searcher import Searcher, relaxation_options
from .strategy import Budget, SearchStrategy, StrategyResult, register_strategy
from .supernet import SuperNet, default_relaxation
from ..space.fusion import FeatureSpace
from ..engine import clock

__all__ = ["DartsStrategy", "build_darts_searcher", "budget_hook"]

log = logging.getLogger("darts_gnn.search")

registries.DERIVATIONS.register("argmax", lambda model, evaluator, log=None: (model.genotype(), []))
registries.DERIVATIONS.register("greedy", lambda model, evaluator, log=None: greedy_genotype(model, evaluator, log=log))


def build_darts_searcher(cfg: Config, dataset, graph, evaluator=None, logger=None, hooks=None,
                         progress=None, features: dict | None = None) -> Searcher:
    """The :class:`Searcher` of ``cfg``: the run's space (:meth:`SearchSpace.for_run`), the relaxation,
    and the supernet (scale policy ``search.scale_norm``) seeded with the search seed so that its
    initial weights are repeatable. ``features``: :func:`darts_gnn.features.model_features` output
    (then the content fusion is searched too)."""
    seed = cfg.search.seed if cfg.search.seed is not None else cfg.train.seed
    space = SearchSpace.for_run(cfg)
    relax = default_relaxation(cfg.search.relaxation, **relaxation_options(cfg.search, seed))
    seed_everything(seed)
    if features:
        features = {**features, "feature_space": FeatureSpace.from_dict(cfg.features.space)}
    model = SuperNet(space, graph, relaxation=relax, init_std=cfg.search.init_std,
                     scale_norm=cfg.search.scale_norm, **(features or {}))
    return Searcher(model, dataset, cfg.search, cfg.train, evaluator=evaluator, logger=logger, hooks=hooks,
                    progress=progress)


def budget_hook(budget: Budget):
    """A searcher epoch hook that stops the search once ``budget`` (seconds or epochs) is spent."""
    def hook(searcher: Searcher, epoch: int, record: dict) -> bool:
        return budget.exhausted(searcher.seconds, searcher.epoch)
    return hook


@register_strategy("darts")
class DartsStrategy(SearchStrategy):
    """Bilevel DARTS search + ``search.derive`` (see the module docstring)."""
    supports_resume = True

    def search(self) -> StrategyResult:
        ctx, cfg = self.ctx, self.ctx.cfg
        hooks = list(ctx.hooks) + ([budget_hook(ctx.budget)] if ctx.budget.limited else [])
        logger = AlphaLogger(ctx.writer, figure_every=cfg.search.log_every) if ctx.writer is not None else None
        searcher = build_darts_searcher(cfg, ctx.dataset, ctx.graph, ctx.evaluator, logger, hooks, ctx.progress)
        if ctx.run is not None:
            ckpt = attach_checkpointing(searcher, ctx.run, cfg, resume=ctx.resume)
            with ckpt.guard_errors():
                res = searcher.run()
        else:
            res = searcher.run()
        t0 = clock.now()
        argmax = res.genotype
        derive = registries.DERIVATIONS.get(cfg.search.derive)
        genotype, trace = derive(searcher.model, ctx.evaluator, log=log.info)
        seconds = res.seconds + clock.now() - t0
        log.info("darts: %s (derive=%s, argmax %s; %.1f s, %d epochs)", genotype.summary(), cfg.search.derive,
                 argmax.summary(), seconds, res.epochs_run)
        return StrategyResult(genotype, [genotype, argmax], seconds, res.epochs_run, res.history,
                              {"trajectory": res.trajectory, "probabilities": res.probabilities,
                               "argmax": argmax.to_dict(), "derive": cfg.search.derive, "derive_trace": trace,
                               "stopped_early": res.stopped_early, "supernet": searcher.model})
