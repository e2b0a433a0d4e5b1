r"""Validated selection: the stage after any search strategy that picks the architecture to keep.

A one-shot score (a supernet's validation Recall with α set one-hot at a genotype) ranks
architectures cheaply but is a weak proxy for how they do when trained alone. Selection therefore
retrains a small pool of candidates, each with a *complete* short protocol (the real
:class:`~darts_gnn.engine.train.Trainer` with early stopping on validation, a larger learning rate and a
short patience), and keeps the best by **validation** Recall@20 only (the test set never chooses).
Then the top architectures are retrained with each training :class:`~darts_gnn.search.recipe.Recipe`
of a small grid, since per-architecture hyperparameters matter for graph CF.

.. code-block:: python

    pool = [argmax, greedy, *sampled]                      # any ranked list of Genotype
    res = select_genotype(pool, dataset, graph, cfg, evaluator, one_shot=scores)
    res.winner, res.spearman, res.table()

The result also carries the proxy diagnostics: Spearman's rank correlation between the one-shot
scores and the retrained validation scores over the pool, and a warning when it is uninformative
(below :data:`PROXY_WARN` or too few candidates to tell). It is independent of DARTS: a random or
evolutionary strategy hands over its ranked population the same way.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from ..errors import UserError
from ..tasks.base import better, task_of
from ..space.recipe import recipe_entry
from .early_cut import any_rule, curve_rule, cut_rule, deadline_rule, prune_by_one_shot
from .selection_budget import START_FRACTION, budget_for, final_retrain_estimate
from .paired import incumbent_holds
from .lead import (_anchor_recipes, _architecture, _lead, _recipe_variants, _screened, _shallow_first, _short_bpr,
                   _stood_in, _with_lr, LEAD_TOP_SHARE, lead_targets)
from .recipe import (SOFTMAX_RECIPES, Recipe, RecipeTrainer, default_grid, default_recipes, recipe_cost_factor,
                     recipe_train_config)
from ..engine.trial import fit_and_evaluate
from .selection_result import (INCUMBENT, MIN_POOL_FOR_PROXY, PROXY_WARN, Candidate, SelectionResult,
                               spearman)
from .selection_result import best as _best, diagnose as _diagnose, ranked as _ranked
from ..engine import clock

__all__ = ["Candidate", "SelectionResult", "select_genotype", "train_candidate", "spearman",
           "default_recipes", "default_grid", "recipe_entry", "better", "SOFTMAX_RECIPES",
           "final_retrain_estimate", "recipe_cost_factor", "INCUMBENT", "lead_stage", "selection_metric",
           "valid_per_user", "valid_curve", "PROXY_WARN", "MIN_POOL_FOR_PROXY", "START_FRACTION"]


def train_candidate(genotype, dataset, graph, train_cfg, evaluator, *, patience: int | None = None,
                    writer=None, seed: int | None = None, features: dict | None = None, stop=None):
    """Train ``genotype`` from scratch with its recipe (``lr`` / ``l2`` / objective) on top of
    ``train_cfg``; early stop on validation with ``patience`` (default ``train_cfg.patience``).
    ``features``: keyword arguments for the model's content features (``item_features=`` ...);
    ``stop``: an extra ``on_epoch_end(epoch, record) -> bool`` (e.g. :func:`~darts_gnn.search.early_cut.cut_rule`).
    Returns ``(model, TrainResult, seconds)``; the model holds its best-validation weights."""
    recipe = genotype.recipe or Recipe()
    changes: dict[str, Any] = {"progress": False} if patience is not None else {}
    if patience is not None:
        changes["patience"] = int(patience)
    if seed is not None:
        changes["seed"] = int(seed)
    tcfg = recipe_train_config(train_cfg, recipe, **changes)
    task = task_of(evaluator)                    # rating etc.: the task's head and loss
    if task is not None and (recipe.loss != "bpr" or recipe.negatives != 1):
        raise UserError(f"recipe {recipe}: the {task.name} task trains with its own loss; a recipe may "
                        f"set lr and l2 only (loss: bpr, negatives: 1)")

    def trainer(model, data, cfg, **kw):
        if stop is not None:
            first = kw.get("on_epoch_end")
            kw["on_epoch_end"] = lambda e, rec: bool(first is not None and first(e, rec)) or bool(stop(e, rec))
        return RecipeTrainer(model, data, cfg, recipe=recipe, **kw)
    trial = fit_and_evaluate(lambda: genotype.build_model(dataset, graph, **(features or {})), dataset, tcfg,
                             evaluator, graph=graph, splits=(), writer=writer, task=task, trainer=trainer)
    return trial.model, trial.train, trial.fit_seconds


def _mean_factor(done: Sequence[Candidate]) -> float:
    """Mean :func:`recipe_cost_factor` of the runs so far (what the mean run cost stands for; the
    incumbent, trained before the selection under another protocol, is not one of them)."""
    done = [c for c in done if c.stage != INCUMBENT]
    return sum(recipe_cost_factor(c.genotype.recipe) for c in done) / len(done) if done else 1.0


def _dedupe(genotypes) -> list:
    seen, out = set(), []
    for g in genotypes:
        if g not in seen:
            seen.add(g)
            out.append(g)
    return out


def _cut_for(done: Sequence[Candidate], rho: float, metric: str, hib: bool):
    """The incumbent cut (:func:`~darts_gnn.search.early_cut.cut_rule`) against the best candidate so far."""
    top = _best(done, metric, hib) if done else None
    return cut_rule(top.score(metric), top.epochs, rho, metric, hib) if top is not None else None


def _curve_rules(done: Sequence[Candidate], genotype, rho: float, metric: str, hib: bool) -> list:
    """The curve cuts (:func:`~darts_gnn.search.early_cut.curve_rule`) a run of ``genotype`` must pass:
    against the best run so far trained with its recipe and ``norm`` (the same protocol), and against
    the incumbent when ``genotype`` trains with at least the incumbent's ``lr`` (a run that trails,
    epoch by epoch, the baseline trained at a smaller learning rate is not worth finishing; judged
    from the second evaluation on, not from a third of the incumbent's long run)."""
    same = [c for c in done if c.curve and c.stage != INCUMBENT
            and (c.genotype.recipe, c.genotype.norm) == (genotype.recipe, genotype.norm)]
    rules = [curve_rule(_best(same, metric, hib).curve, rho, metric, hib)] if same else []
    lr = getattr(genotype.recipe, "lr", None)
    rules += [curve_rule(c.curve, rho, metric, hib, start_fraction=0.0) for c in done
              if c.stage == INCUMBENT and c.curve and lr is not None
              and getattr(c.genotype.recipe, "lr", None) is not None and lr >= c.genotype.recipe.lr]
    return [r for r in rules if r is not None]


def valid_curve(history, metric: str) -> tuple:
    """``((epoch, valid metric), ...)`` of a run's evaluated epochs (a ``TrainResult.history``)."""
    return tuple((int(h["epoch"]), float(h[f"valid/{metric}"])) for h in history if f"valid/{metric}" in h)


def selection_metric(evaluator) -> tuple[str, bool]:
    """``(metric, higher_is_better)`` the selection ranks by: the task's monitor, or Recall@20 (Recall@K
    for the first K) for plain ranking."""
    task = task_of(evaluator)
    if task is None:
        return ("recall@20" if 20 in evaluator.ks else f"recall@{evaluator.ks[0]}"), True
    return task.monitor, task.higher_is_better


def _grid(cfg, recipes: Sequence | None, own_loss: bool = False) -> list:
    """The recipe grid as ``(Recipe, norm)`` pairs: ``recipes``, else ``search.select_recipes``, else
    :func:`default_grid` (its BPR part only when a task trains with its own loss, ``own_loss``)."""
    s = cfg.search
    if recipes is None and not s.select_recipes:
        grid = default_grid(s.select_lr, cfg.train.l2)
        return [(r, n) for r, n in grid if not own_loss or (r.loss == "bpr" and r.negatives == 1 and not n)]
    return [recipe_entry(r) for r in (recipes if recipes is not None else s.select_recipes)]


def _recipe_plan(done: Sequence[Candidate], anchors: Sequence, grid: list, s, metric: str, hib: bool,
                 origin: dict | None = None):
    """The genotypes (with their recipes) of the recipe stage, recipe-major over the
    targets: the ``anchors`` (the baseline point) first when retrained or represented by the
    incumbent, then the ``s.select_recipe_top`` best retrained architectures not among them. Under a
    tight budget the baseline thus gets every recipe before the search's own architectures do, so the
    search does not end behind the baseline trained with the grid's best recipe (what a random or
    evolutionary pool, whose best architecture is usually the baseline, would find); cheap BPR recipes
    go before the costlier objectives. The incumbent's architecture does not get the short BPR recipe
    again: the incumbent is that run under the full protocol. ``origin``: the pool's genotype of each
    architecture-stage run trained with the lead recipe and its ``norm`` (:func:`_screened`), so that a
    grid entry that keeps the architecture's ``norm`` gets the architecture's own, not the lead's."""
    retrained = {_with_lr(c.genotype, s.select_lr) for c in done if c.stage == "architecture"}
    standing = {_architecture(c.genotype) for c in done if c.stage == INCUMBENT}
    targets = [g for g in (_with_lr(a, s.select_lr) for a in anchors) if g in retrained or _architecture(g) in standing]
    own = [c for c in done if c.stage == "architecture"]
    tops = [(origin or {}).get(c.genotype, c.genotype) for c in _ranked(own, metric, hib)[:s.select_recipe_top]]
    targets += [g for g in tops if g not in targets]
    for entry in grid:
        for t in targets:
            if not (_short_bpr(entry, s.select_lr) and _architecture(t) in standing):
                yield next(_recipe_variants(t, [entry], s.select_lr))


class _Runner:
    """Trains the selection's candidates one by one under its budget: each genotype at most once, with
    the short protocol, the incumbent cut and the deadline; ``done`` holds the results."""

    def __init__(self, dataset, graph, cfg, evaluator, budget_seconds, features, log, done):
        self.dataset, self.graph, self.cfg, self.evaluator, self.features = dataset, graph, cfg, evaluator, features
        self.metric, self.hib = selection_metric(evaluator)
        self.budget = budget_for(cfg, budget_seconds)
        self.say = log or (lambda m: None)
        self.done: list[Candidate] = list(done)
        self.tried = {c.genotype for c in self.done}
        for c in self.done:
            if c.stage != INCUMBENT:       # runs made before (the lead stage): the mean run cost knows them
                self.budget.record(c.seconds, self.best())

    def best(self) -> Candidate:
        return _best(self.done, self.metric, self.hib)

    def __call__(self, g, stage: str, shot=None, shallow: bool = False, curve_cut: bool = True,
                 share: float = 1.0) -> None:
        s, budget, done = self.cfg.search, self.budget, self.done
        if g in self.tried:
            return
        self.tried.add(g)
        if not budget.allows(recipe_cost_factor(g.recipe) / max(1.0, _mean_factor(done)), fallback=bool(done)):
            budget.skipped += 1
            return
        own = [c for c in done if c.stage != INCUMBENT]    # the cut compares runs of the same protocol
        left = budget.left()
        cut = _cut_for(own, s.select_cut, self.metric, self.hib)
        end = deadline_rule(None if left is None else left * share)
        curves = _curve_rules(done, g, s.select_curve_cut, self.metric, self.hib) if curve_cut else []
        model, res, sec = train_candidate(g, self.dataset, self.graph, self.cfg.train, self.evaluator,
                                          patience=s.select_patience, features=self.features,
                                          stop=any_rule(cut, *curves, end))
        done.append(Candidate(g, {k: float(v) for k, v in res.best_valid.items()}, sec, res.epochs_run, shot,
                              stage, cut=any(r is not None and r.fired for r in (cut, *curves)),
                              deadline=bool(end and end.fired), per_user=valid_per_user(self.evaluator, model),
                              curve=valid_curve(res.history, self.metric), shallow=shallow))
        budget.record(sec, self.best())
        self.say(f"select [{stage}] valid {self.metric}={done[-1].score(self.metric):.4f} ({sec:.1f} s, "
                 f"{res.epochs_run} epochs): {g.summary()}")

    def spare(self, genotypes: Sequence, lead, one_shot: dict, incumbent) -> None:
        """``search.select_spare``: ``genotypes`` (ranked, beyond the pool) trained as the architecture
        stage trains them, in order, while one more run still fits the budget (none counted as skipped;
        nothing without a budget)."""
        s = self.cfg.search
        if self.budget.seconds is None or not s.select_spare:
            return
        for g in genotypes:
            if _stood_in(g, lead, incumbent):
                continue
            run = _screened(g, lead, s.select_lr)
            if run in self.tried:
                continue
            if not self.budget.allows(recipe_cost_factor(run.recipe) / max(1.0, _mean_factor(self.done)), True):
                return
            self(run, "architecture", one_shot.get(g))

    def lead(self, anchors: Sequence, grid: list, own: Sequence = (), one_shot: dict | None = None):
        """The lead stage (``search.select_lead``): the anchors' recipes (:func:`_anchor_recipes`), or
        the grid on the search's own ``own`` architectures (``select_lead_on: top``; their runs count
        as architecture runs, the short BPR one left to the architecture stage); returns :func:`_lead`,
        logged."""
        for g in _anchor_recipes(self.done, own or anchors, grid, self.cfg.search, skip_short=bool(own)):
            self(g, "architecture" if own else "recipe", (one_shot or {}).get(_architecture(g)) if own else None,
                 share=LEAD_TOP_SHARE if own else 1.0)
        lead = _lead(self.done, self.metric, self.hib, own)
        if lead is not None:
            where = "the search's first architecture" if own else "the baseline point"
            self.say(f"select: the architecture stage trains with the recipe that won on {where}: "
                     f"{self.best().genotype.summary()}")
        return lead

    def lead_stage(self, pool: Sequence, anchors: Sequence, grid: list, one_shot: dict):
        """The lead stage on :func:`~darts_gnn.search.lead.lead_targets`; with ``select_lead_on: top``,
        when no recipe won on the search's first architecture, on the anchors as well."""
        targets = lead_targets(pool, anchors, self.cfg.search)
        if targets == list(anchors):
            return self.lead(anchors, grid)
        if (lead := self.lead((), grid, own=targets, one_shot=one_shot)) is None and anchors:
            self.say("select: no recipe beat the incumbent on the search's first architecture; the baseline "
                     "point gets the grid (search.select_lead_on: top)")
            lead = self.lead(anchors, grid)
        return lead


def lead_stage(anchors: Sequence, dataset, graph, cfg, evaluator, *, incumbent: Candidate | None,
               recipes: Sequence | None = None, budget_seconds: float | None = None,
               log: Callable[[str], None] | None = None, features: dict | None = None):
    """The selection's lead stage on its own, to run before a search (``search.supernet_objective:
    lead``): the ``anchors`` trained with every recipe of the grid (:func:`select_genotype`'s
    ``recipes``), the short BPR one left to the ``incumbent``. Returns ``(runs, lead)``: the trained
    :class:`Candidate` entries (hand them to :func:`select_genotype` as ``prior``) and the
    ``(Recipe, norm)`` that beat the incumbent, or ``None``."""
    runner = _Runner(dataset, graph, cfg, evaluator, budget_seconds, features, log,
                     [incumbent] if incumbent is not None else [])
    lead = runner.lead(anchors, _grid(cfg, recipes, own_loss=task_of(evaluator) is not None))
    return [c for c in runner.done if c.stage != INCUMBENT], lead


def select_genotype(candidates: Sequence, dataset, graph, cfg, evaluator, *,
                    one_shot: dict | None = None, recipes: Sequence | None = None,
                    pool_size: int | None = None, budget_seconds: float | None = None,
                    log: Callable[[str], None] | None = None, features: dict | None = None,
                    anchors: Sequence = (), incumbent: Candidate | None = None,
                    prior: Sequence[Candidate] = (), spare: Sequence = (), shallow: Sequence = ()) -> SelectionResult:
    """Retrain a ranked pool of genotypes and pick one by validation only (module doc).

    Args:
        candidates: ranked genotypes (duplicates dropped); the first ``pool_size`` (``search.select_pool``)
            are retrained with the short protocol (``select_lr``, ``select_patience``), or with the
            recipe that won on the ``anchors`` (``search.select_lead``).
        dataset, graph, evaluator, cfg: the data, the training graph, the validation evaluator, the
            :class:`~darts_gnn.config.Config` (``train`` is the protocol the short one derives from).
        one_shot: ``{genotype: one-shot score}`` for the proxy diagnostics.
        recipes: the grid for the ``select_recipe_top`` best (:func:`recipe_entry`; default :func:`_grid`).
        budget_seconds: wall-clock cap (``None``: none); a candidate that does not fit is skipped
            (``skipped``), one still training when it runs out is stopped with its best weights.
        anchors: architectures that get the recipe grid too (the baseline point), first with
            ``search.select_lead``; see :func:`_recipe_plan`.
        features: the content features the candidates take (``item_features=`` ...), if any.
        incumbent: a trained :class:`Candidate` (:func:`~darts_gnn.search.pool.incumbent_candidate`),
            not retrained; the best candidate replaces it only past the paired test (``paired``).
        prior: candidates trained before (:func:`lead_stage`), not trained again; their time is not
            part of ``budget_seconds``.
        spare: further ranked genotypes, retrained after the recipe stage while the budget lasts
            (``search.select_spare``; one-shot pruning applies to them too).
        shallow: genotypes retrained before the pool when the lead recipe replaced the objective the
            supernet was trained with (``search.select_shallow``; :func:`_shallow_first`), else not at all.
    """
    s = cfg.search
    one_shot = dict(one_shot or {})
    if not (pool := _dedupe(candidates)[:pool_size or s.select_pool]):
        raise ValueError("select_genotype: the candidate pool is empty")
    grid = _grid(cfg, recipes, own_loss=task_of(evaluator) is not None)
    run = _Runner(dataset, graph, cfg, evaluator, budget_seconds, features, log,
                  ([incumbent] if incumbent is not None else []) + list(prior))
    metric, hib, done = run.metric, run.hib, run.done
    pool, pruned = prune_by_one_shot(pool, one_shot, s.select_prune if hib else 0.0, keep=anchors)
    lead = run.lead_stage(pool, anchors, grid, one_shot) if s.select_lead else None   # the recipe that screens the pool
    if first := _shallow_first(shallow, lead, s):
        run.say(f"select: the supernet trained with BPR cannot rank depths under the lead recipe; first the "
                f"shallow candidate {', '.join(g.summary() for g in first)} (search.select_shallow)")
    picked, pool = set(pool), _dedupe(first + pool)
    origin = {_screened(g, lead, s.select_lr): g for g in pool}
    for g in pool:      # the shallow candidate's curve rises later than the lead's: no curve cut for it
        if not _stood_in(g, lead, incumbent):
            run(_screened(g, lead, s.select_lr), "architecture", one_shot.get(g),
                shallow=g in first and g not in picked, curve_cut=g not in first)
    for arch in _recipe_plan(done, anchors, grid, s, metric, hib, origin if lead is not None else None):
        run(arch, "recipe")
    kept = prune_by_one_shot(pool + list(spare), one_shot, s.select_prune if hib else 0.0, keep=anchors)[0]
    run.spare([g for g in kept if g not in pool], lead, one_shot, incumbent)
    winner, paired = _decide(done, incumbent, metric, hib, s.select_incumbent_z)
    result = SelectionResult(winner, done, clock.now() - run.budget.t0, metric,
                             skipped=run.budget.skipped, higher_is_better=hib, reserve_seconds=run.budget.reserve,
                             pruned=pruned, paired=paired)
    _diagnose(result)
    return result


def valid_per_user(evaluator, model):
    """``[U]`` validation scores of the selection's metric per user (:meth:`Evaluator.per_user`), or
    ``None`` for a task that ranks by another kind of metric (rating RMSE, ...)."""
    if task_of(evaluator) is not None or not hasattr(evaluator, "per_user"):
        return None
    return evaluator.per_user(model, "valid")[selection_metric(evaluator)[0]]


def _decide(done: Sequence[Candidate], incumbent, metric: str, hib: bool, z: float):
    """``(winner genotype, paired dict)``: the best by validation ``metric``, unless the incumbent
    holds against it on the paired test (:func:`~darts_gnn.search.paired.incumbent_holds`)."""
    best = _best(done, metric, hib)
    if incumbent is None or not hib:
        return best.genotype, {}
    keep, gain, se = incumbent_holds(best, incumbent, z)
    base = abs(incumbent.score(metric))
    paired = {"gain": None if math.isnan(gain) else gain, "se": None if math.isnan(se) else se, "z": z,
              "kept_incumbent": bool(keep and best is not incumbent),
              "resolution": z * se / base if z > 0 and base > 0 and not math.isnan(se) else None}
    return (incumbent if keep else best).genotype, paired
