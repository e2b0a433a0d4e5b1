"""Differentiable architecture search: supernet, bilevel searcher, monitoring and the end-to-end run.

.. code-block:: python

    from darts_gnn.search import SuperNet, Searcher, run_search
"""
from .derive import derive_genotype, greedy_genotype
from .pipeline import SearchReport, build_searcher, retrain, run_search
from .pool import run_selection
from .recipe import Recipe, RecipeTrainer
from .select import SelectionResult, select_genotype
from .searcher import SearchResult, Searcher, ValidSampler
from .supernet import SuperNet, default_relaxation

__all__ = [
    "SuperNet", "Searcher", "SearchResult", "ValidSampler", "run_search", "SearchReport", "build_searcher",
    "retrain", "default_relaxation", "derive_genotype", "greedy_genotype", "select_genotype", "SelectionResult",
    "run_selection", "Recipe", "RecipeTrainer",
]
