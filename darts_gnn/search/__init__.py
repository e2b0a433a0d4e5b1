"""Architecture search: strategies (DARTS, random, evolution, RL), supernet, bilevel searcher, selection.

The end-to-end run (search -> selection -> retrain -> test) is :func:`darts_gnn.pipeline.run_search`.

.. code-block:: python

    from darts_gnn.search import SuperNet, Searcher
    from darts_gnn.search import SearchContext, run_strategy     # darts | random | evolution | rl
"""
from .architect import Architect
from .derive import derive_genotype, greedy_genotype
from .early_cut import curve_rule, cut_rule, prune_by_one_shot
from .darts import build_darts_searcher as build_searcher
from .paired import incumbent_holds, paired_gain
from .pool import incumbent_candidate, run_selection
from .proxy import proxy_spearman, short_train_scores
from .recipe import Recipe, RecipeTrainer
from .select import SelectionResult, default_grid, select_genotype
from .searcher import SearchResult, Searcher, ValidSampler
from .strategies import DartsStrategy, EvolutionStrategy, RandomStrategy, RLStrategy
from .strategy import (Budget, SearchContext, SearchStrategy, StrategyResult, get_strategy, register_strategy,
                       run_strategy, strategy_names)
from .supernet import SuperNet, default_relaxation
from .tune import tune_baseline

__all__ = [
    "SuperNet", "Searcher", "SearchResult", "ValidSampler", "Architect",
    "build_searcher", "default_relaxation", "derive_genotype", "greedy_genotype",
    # strategies (issue 8)
    "SearchStrategy", "StrategyResult", "SearchContext", "Budget", "register_strategy", "get_strategy",
    "strategy_names", "run_strategy", "DartsStrategy", "RandomStrategy", "EvolutionStrategy", "RLStrategy",
    # validated selection (issue 9)
    "select_genotype", "SelectionResult", "run_selection", "Recipe", "RecipeTrainer",
    "default_grid", "tune_baseline", "short_train_scores", "proxy_spearman", "cut_rule", "curve_rule", "prune_by_one_shot",
    "incumbent_candidate", "paired_gain", "incumbent_holds",
]
