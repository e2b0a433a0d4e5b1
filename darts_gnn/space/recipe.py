"""A training recipe (objective, negatives, temperature, lr, L2): part of a :class:`Genotype`.

The value type only; :class:`darts_gnn.search.recipe.RecipeTrainer` trains a model with it, and
:mod:`darts_gnn.search.recipe` documents the objectives.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .. import registries
from ..config import TrainConfig
from .registry import SpaceError

__all__ = ["Recipe", "LOSSES", "recipe_train_config", "recipe_entry"]

#: Training objectives a recipe may name.
LOSSES: tuple[str, ...] = ("bpr", "softmax")


@dataclass(frozen=True)
class Recipe:
    """How to train one architecture.

    ``loss``: one of :data:`LOSSES`; ``negatives``: uniform negatives per positive (``M``);
    ``temperature``: :math:`\\tau` of ``softmax`` (ignored by ``bpr``); ``lr`` / ``l2``: Adam's
    learning rate and the L2 weight on ego rows (``None``: the ``train`` section's values).
    """
    loss: str = "bpr"
    negatives: int = 1
    temperature: float = 1.0
    lr: float | None = None
    l2: float | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise SpaceError(f"recipe.loss: got {self.loss!r}; allowed values: {', '.join(LOSSES)}")
        if not isinstance(self.negatives, int) or isinstance(self.negatives, bool) or not 1 <= self.negatives <= 4096:
            raise SpaceError(f"recipe.negatives: expected an integer in 1..4096, got {self.negatives!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 < float(self.temperature) <= 100):
            raise SpaceError(f"recipe.temperature: expected a number in (0, 100], got {self.temperature!r}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise SpaceError(f"recipe.lr: expected a number in (0, 1) or null, got {self.lr!r}")
        if self.l2 is not None and not (isinstance(self.l2, (int, float)) and 0 <= self.l2 < 1):
            raise SpaceError(f"recipe.l2: expected a number in [0, 1) or null, got {self.l2!r}")

    @property
    def is_default(self) -> bool:
        return self == Recipe()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Recipe":
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise SpaceError(f"recipe: expected a mapping, got {d!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        bad = [k for k in d if k not in names]
        if bad:
            raise SpaceError(f"recipe: unknown key(s) {bad}; allowed keys: {', '.join(names)}")
        return cls(**d)

    def short(self) -> str:
        """E.g. ``softmax(M=64, t=0.1) lr=0.005`` (``bpr`` for the default)."""
        s = self.loss if self.loss == "bpr" and self.negatives == 1 else \
            f"{self.loss}(M={self.negatives}" + (f", t={self.temperature:g})" if self.loss == "softmax" else ")")
        if self.lr is not None:
            s += f" lr={self.lr:g}"
        if self.l2 is not None:
            s += f" l2={self.l2:g}"
        return s


def recipe_train_config(train: TrainConfig, recipe: Recipe, **changes) -> TrainConfig:
    """``train`` with the recipe's ``lr`` / ``l2`` (when set) and ``changes`` applied."""
    over = {k: v for k, v in (("lr", recipe.lr), ("l2", recipe.l2)) if v is not None}
    return dataclasses.replace(train, **over, **changes)


def recipe_entry(entry) -> tuple[Recipe, bool | None]:
    """One grid entry: a :class:`Recipe`, a ``(Recipe, norm)`` pair, or a mapping of recipe fields with
    an optional ``norm`` (bool: cosine scores on or off for that recipe). Raises ``SpaceError`` naming
    the bad key."""
    if isinstance(entry, Recipe):
        return entry, None
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], Recipe):
        return entry[0], entry[1]
    if not isinstance(entry, dict):
        raise SpaceError(f"search.select_recipes: expected a mapping of recipe fields, got {entry!r}")
    fields = dict(entry)
    norm = fields.pop("norm", None)
    if norm is not None and not isinstance(norm, bool):
        raise SpaceError(f"search.select_recipes: norm must be true, false or null, got {norm!r}")
    return Recipe.from_dict(fields), norm


registries.VALUE_CHECKS.register("search.select_recipes", recipe_entry)
