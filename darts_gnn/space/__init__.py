r"""The search space: what a search chooses among, and the discrete model it ends in.

* :mod:`.registry` -- :class:`Registry` of candidate operations (:func:`register`), :class:`Choice`,
  :class:`SearchSpace` (the choices of a run), :class:`SpaceError`;
* :mod:`.candidates`, :mod:`.defaults` -- the built-in candidates (aggregators, transforms, skips,
  combines), registered on import;
* :mod:`.fusion` -- content-feature fusion candidates, :class:`FeatureGene`, :class:`FeatureSpace`;
* :mod:`.mixed` -- the continuous relaxation of one choice, ``sum_k w_k op_k(x)`` ``[N, d]``;
* :mod:`.genotype` -- :class:`Genotype`, the discrete architecture (JSON);
* :mod:`.discrete` -- :class:`GenotypeNet`, the recommender a genotype describes.
"""
from . import defaults  # noqa: F401  (registers the built-in candidates)
from .discrete import GenotypeLayer, GenotypeNet
from .fusion import FeatureFusion, FeatureGene, FeatureSpace
from .genotype import GENOTYPE_VERSION, Genotype, LayerGene
from .mixed import MixedAggregate, MixedCombine, MixedLayer, MixedSkip, MixedTransform
from .registry import (GLOBAL, KINDS, PER_LAYER, REGISTRY, Candidate, Choice, Registry, SearchSpace,
                       SpaceError, register)

__all__ = [
    "KINDS", "Candidate", "Registry", "REGISTRY", "register", "Choice", "SearchSpace", "SpaceError",
    "PER_LAYER", "GLOBAL", "Genotype", "LayerGene", "GENOTYPE_VERSION", "GenotypeNet", "GenotypeLayer",
    "FeatureFusion", "FeatureGene", "FeatureSpace",
    "MixedAggregate", "MixedTransform", "MixedSkip", "MixedLayer", "MixedCombine",
]
