"""Typed configuration: dataclasses, YAML loading, validation and ``--set key=value`` overrides.

A config is a tree of dataclasses (:mod:`.schema`). Every key is checked when it is loaded
(:func:`load_config`, :mod:`.loader`): an unknown key, a value of the wrong type (:mod:`.convert`) or
a value outside its range or not registered (:mod:`.validate`) raises :class:`ConfigError` with the
dotted key, what was received and what is expected.
"""
from ..errors import ConfigError
from .convert import config_to_dict
from .loader import apply_overrides, config_from_dict, load_config, parse_yaml, read_config_file
from .schema import (CHOICES, FLAT_RELAXATION_KEYS, Config, DataConfig, EvolutionConfig, FeaturesConfig,
                     ModelConfig, RandomConfig, RLConfig, SearchConfig, SyntheticConfig, TaskConfig, TrainConfig)
from .validate import REGISTERED, validate, validate_registered

__all__ = [
    "ConfigError", "Config", "DataConfig", "SyntheticConfig", "ModelConfig", "TrainConfig",
    "SearchConfig", "RandomConfig", "EvolutionConfig", "RLConfig", "load_config", "apply_overrides",
    "config_to_dict", "config_from_dict", "validate", "parse_yaml", "read_config_file", "FLAT_RELAXATION_KEYS",
    "FeaturesConfig", "CHOICES", "REGISTERED", "validate_registered", "TaskConfig",
]
