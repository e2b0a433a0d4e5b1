"""The built-in search strategies, imported for their registration (``darts``, ``random``,
``evolution``, ``rl``); :data:`darts_gnn.registries.STRATEGIES` imports this module on first lookup."""
from __future__ import annotations

from .darts import DartsStrategy
from .evolution import EvolutionStrategy
from .random_search import RandomStrategy
from .rl import RLStrategy

__all__ = ["DartsStrategy", "RandomStrategy", "EvolutionStrategy", "RLStrategy"]
