"""Typed configuration: dataclasses, YAML loading, validation and ``--set key=value`` overrides.

A config is a tree of dataclasses. Every key is checked: an unknown key, a value of the wrong type or
a choice outside its allowed values raises :class:`ConfigError` with the dotted key, what was received
and what is expected.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ConfigError", "Config", "DataConfig", "SyntheticConfig", "ModelConfig", "TrainConfig",
    "SearchConfig", "load_config", "apply_overrides", "config_to_dict", "config_from_dict",
]


class ConfigError(ValueError):
    """A bad configuration: names the key (and file) and what was expected."""


# Allowed values for string fields, by "section.key".
CHOICES: dict[str, tuple[str, ...]] = {
    "data.source": ("synthetic", "lightgcn", "movielens", "csv"),
    "data.split": ("given", "random", "temporal"),
    "data.duplicates": ("drop", "error"),
    "model.name": ("mf", "lightgcn", "ngcf"),
    "train.device": ("cpu", "cuda", "auto"),
}


@dataclass
class SyntheticConfig:
    """Size and shape of the built-in synthetic data set (see ``darts_gnn.data.synthetic``)."""
    n_users: int = 600
    n_items: int = 800
    n_communities: int = 8
    dim: int = 16
    interactions_per_user: int = 25
    popularity_exponent: float = 1.0


@dataclass
class DataConfig:
    """Where interactions come from and how they are split.

    ``source``: ``synthetic`` (built-in generator), ``lightgcn`` (``path`` is a folder with
    ``train.txt`` and optionally ``test.txt``), ``movielens`` (``path`` is ``u.data``), ``csv``
    (``path`` is a CSV/TSV file with a header). ``split``: ``given`` (use the test file),
    ``random`` (per-user holdout of ``test_fraction``) or ``temporal`` (per-user last
    ``test_fraction`` by timestamp). Validation is always carved out of each user's training items
    (``valid_fraction``, seeded).
    """
    source: str = "synthetic"
    path: str | None = None
    social_path: str | None = None
    split: str = "given"
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    min_rating: float | None = None
    duplicates: str = "drop"
    user_col: str = "user"
    item_col: str = "item"
    rating_col: str | None = None
    time_col: str | None = None
    delimiter: str | None = None
    seed: int = 2020
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    """A hand-designed model: ``mf``, ``lightgcn`` or ``ngcf``."""
    name: str = "lightgcn"
    dim: int = 64
    n_layers: int = 3
    dropout: float = 0.0


@dataclass
class TrainConfig:
    """BPR training: Adam, one uniform negative per positive, L2 on the batch's ego embeddings,
    early stopping on validation ``recall@20`` checked every ``eval_every`` epochs."""
    epochs: int = 200
    batch_size: int = 2048
    lr: float = 1e-3
    l2: float = 1e-4
    patience: int = 10
    eval_every: int = 1
    ks: list[int] = field(default_factory=lambda: [20])
    eval_batch_users: int = 2048
    seed: int = 2020
    device: str = "cpu"
    num_threads: int = 0
    progress: bool = True


@dataclass
class SearchConfig:
    """Architecture search (owned by ``darts_gnn.search``; see ``docs/search.md``).

    ``space``: ``None`` (the default space with ``n_layers`` layers), a YAML file or an inline mapping
    of :class:`darts_gnn.space.SearchSpace` fields. Weights are trained on training BPR with
    ``lr`` / ``batch_size`` / ``l2`` (``None``: the ``train`` section's values), α with Adam
    (``arch_lr``, ``arch_betas``, ``arch_weight_decay``) on validation BPR, after ``warmup_epochs``
    of weights only. ``order``: 1 (first order, default) or 2 (unrolled). ``relaxation``: ``softmax``,
    ``gumbel`` or ``sigmoid``. ``max_steps_per_epoch`` caps the weight steps of one search epoch
    (``None``: one pass over the training pairs). ``eval_every``: supernet validation Recall every n
    epochs (0: never); ``log_every``: α figures to TensorBoard every n epochs. ``seed``: ``None``
    uses ``train.seed``. ``retrain``: retrain the derived genotype from scratch and test it.
    ``derive``: ``argmax`` of α per choice (DARTS) or ``greedy`` (fix choices one at a time by the
    supernet's validation Recall@20; see ``darts_gnn.search.derive``).

    Issue 9 (``docs/search.md``): ``scale_norm`` (``rms``: every mixed candidate rescaled to its
    input's RMS; ``none``), ``width_search`` (``fixed``: width = ``model.dim``; ``masked``: the
    space's widths by shared channels), ``select`` (validated selection after the search:
    ``select_pool`` architectures from argmax, the derived genotype and the best of ``select_samples``
    draws from α by one-shot score, plus the baseline point; short protocol ``select_lr`` /
    ``select_patience``; then ``select_recipes`` (list of recipe mappings; ``None``: L2 x1, x10,
    x30) on the ``select_recipe_top`` best), ``budget_factor`` x one baseline training (or
    ``budget_seconds``) for search + selection + final retrain.

    Defaults suit the small budgets of this project (tens of epochs, a few steps each: every step
    propagates over the whole graph, so the search uses larger batches and learning rates than the
    retraining; ``arch_lr`` is 100x DARTS's 3e-4 because α sees ~10^2, not ~10^4, steps).
    """
    epochs: int = 20
    warmup_epochs: int = 2
    arch_lr: float = 0.03
    arch_weight_decay: float = 1e-3
    n_layers: int = 3
    space: str | dict[str, Any] | None = None
    lr: float | None = 0.005
    batch_size: int | None = 4096
    l2: float | None = None
    arch_betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    order: int = 1
    relaxation: str = "softmax"
    max_steps_per_epoch: int | None = None
    eval_every: int = 1
    log_every: int = 1
    hessian_every: int = 0
    init_std: float = 0.1
    seed: int | None = None
    retrain: bool = True
    derive: str = "argmax"
    # robustness (issue 5): relaxation options (darts_gnn.search.relax), finite-difference step of
    # the unrolled gradient, eigenvalue guard (darts_gnn.search.hessian; stop factor 0: log only),
    # search checkpoints (darts_gnn.search.checkpoint)
    tau_max: float = 10.0
    tau_min: float = 0.1
    tau_schedule: str = "linear"
    zero_one_weight: float = 10.0
    unrolled_eps: float = 0.01
    hessian_iters: int = 20
    hessian_stop_factor: float = 0.0
    hessian_window: int = 2
    checkpoint_every: int = 1
    # fair supernet and validated selection (issue 9; darts_gnn.nn.mixed, darts_gnn.search.select):
    # scale policy of every mixed choice; width fixed to model.dim or searched by masked channels;
    # the selection stage (pool size, α samples, short protocol, recipes, budget)
    scale_norm: str = "rms"
    width_search: str = "fixed"
    select: bool = True
    select_pool: int = 3
    select_samples: int = 64
    select_lr: float = 0.005
    select_patience: int = 5
    select_recipes: list[dict[str, Any]] | None = None
    select_recipe_top: int = 1
    budget_factor: float = 3.0
    budget_seconds: float | None = None

    def __post_init__(self) -> None:
        checks = [
            ("search.epochs", self.epochs >= 0, "a non-negative integer"),
            ("search.warmup_epochs", self.warmup_epochs >= 0, "a non-negative integer"),
            ("search.arch_lr", self.arch_lr > 0, "a positive number"),
            ("search.arch_weight_decay", self.arch_weight_decay >= 0, "a non-negative number"),
            ("search.n_layers", self.n_layers >= 1, "a positive integer"),
            ("search.lr", self.lr is None or self.lr > 0, "a positive number or null"),
            ("search.batch_size", self.batch_size is None or self.batch_size > 0, "a positive integer or null"),
            ("search.l2", self.l2 is None or self.l2 >= 0, "a non-negative number or null"),
            ("search.arch_betas", len(self.arch_betas) == 2 and all(0 <= b < 1 for b in self.arch_betas),
             "two numbers in [0, 1), e.g. [0.5, 0.999]"),
            ("search.order", self.order in (1, 2), "1 (first order) or 2 (second order)"),
            ("search.relaxation", self.relaxation in ("softmax", "gumbel", "sigmoid"),
             "one of softmax, gumbel, sigmoid"),
            ("search.max_steps_per_epoch", self.max_steps_per_epoch is None or self.max_steps_per_epoch > 0,
             "a positive integer or null"),
            ("search.eval_every", self.eval_every >= 0, "a non-negative integer (0: never)"),
            ("search.log_every", self.log_every >= 0, "a non-negative integer (0: never)"),
            ("search.hessian_every", self.hessian_every >= 0, "a non-negative integer (0: never)"),
            ("search.init_std", self.init_std > 0, "a positive number"),
            ("search.derive", self.derive in ("argmax", "greedy"), "argmax or greedy"),
            ("search.scale_norm", self.scale_norm in ("rms", "none"), "rms or none"),
            ("search.width_search", self.width_search in ("fixed", "masked"), "fixed or masked"),
            ("search.select_pool", self.select_pool >= 1, "a positive integer"),
            ("search.select_samples", self.select_samples >= 0, "a non-negative integer"),
            ("search.select_lr", 0 < self.select_lr < 1, "a number in (0, 1)"),
            ("search.select_patience", self.select_patience >= 1, "a positive integer"),
            ("search.select_recipe_top", self.select_recipe_top >= 0, "a non-negative integer"),
            ("search.budget_factor", self.budget_factor > 0, "a positive number"),
            ("search.budget_seconds", self.budget_seconds is None or self.budget_seconds > 0,
             "a positive number or null"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{key}: expected {expected}, got {getattr(self, key.split('.')[1])!r}")


@dataclass
class Config:
    """A whole run: data, model, training and (for ``search``) search settings."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    name: str = "run"
    out_dir: str = "runs"


# --------------------------------------------------------------------------- conversion

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(inner)}, got {value!r}")
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return _from_dict(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            v = float(value)
            if math.isnan(v) or math.isinf(v):
                raise ConfigError(f"{key}: expected a finite number, got {value!r}")
            return v
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _from_dict(cls: type, d: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if k not in names:
            raise ConfigError(f"unknown key {key!r}; allowed keys{' in ' + prefix if prefix else ''}: "
                              f"{', '.join(names)}")
        kwargs[k] = _coerce(v, hints[k], key)
        if key in CHOICES and kwargs[k] not in CHOICES[key]:
            raise ConfigError(f"{key}: got {kwargs[k]!r}; allowed values: {', '.join(CHOICES[key])}")
    return cls(**kwargs)


def config_from_dict(d: dict | None, cls: type = Config) -> Any:
    """Build and validate a config dataclass from a plain dict (e.g. parsed YAML)."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"expected a mapping at the top level of the config, got {type(d).__name__}")
    cfg = _from_dict(cls, d)
    validate(cfg)
    return cfg


def config_to_dict(cfg: Any) -> dict:
    """Plain nested dict of a config dataclass (for YAML/JSON output)."""
    return dataclasses.asdict(cfg)


def validate(cfg: Config) -> None:
    """Range checks that the types alone do not express."""
    checks = [
        ("data.test_fraction", 0.0 < cfg.data.test_fraction < 1.0, "a number in (0, 1)"),
        ("data.valid_fraction", 0.0 <= cfg.data.valid_fraction < 1.0, "a number in [0, 1)"),
        ("model.dim", cfg.model.dim > 0, "a positive integer"),
        ("model.n_layers", cfg.model.n_layers >= 0, "a non-negative integer"),
        ("model.dropout", 0.0 <= cfg.model.dropout < 1.0, "a number in [0, 1)"),
        ("train.epochs", cfg.train.epochs >= 0, "a non-negative integer"),
        ("train.batch_size", cfg.train.batch_size > 0, "a positive integer"),
        ("train.lr", cfg.train.lr > 0, "a positive number"),
        ("train.l2", cfg.train.l2 >= 0, "a non-negative number"),
        ("train.patience", cfg.train.patience > 0, "a positive integer"),
        ("train.eval_every", cfg.train.eval_every > 0, "a positive integer"),
        ("train.ks", len(cfg.train.ks) > 0 and all(k > 0 for k in cfg.train.ks), "a non-empty list of positive integers"),
    ]
    for key, ok, expected in checks:
        if not ok:
            section, name = key.split(".")
            raise ConfigError(f"{key}: expected {expected}, got {getattr(getattr(cfg, section), name)!r}")
    if cfg.data.source != "synthetic" and not cfg.data.path:
        raise ConfigError(f"data.path: required when data.source is {cfg.data.source!r}")


# --------------------------------------------------------------------------- files and overrides

def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` strings (value parsed as YAML) to a nested dict, in place."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=5")
        key, _, text = item.partition("=")
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
        node[parts[-1]] = _parse_scalar(text)
    return d


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None), apply overrides, validate.

    Relative data paths are taken from the current directory (the configs in ``configs/`` assume the
    repository root, with the data sets in ``../shared/data``).
    """
    d: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: config file not found")
        try:
            d = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{p}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(d, dict):
            raise ConfigError(f"{p}: expected a mapping of sections (data, model, train, ...)")
    apply_overrides(d, overrides or [])
    try:
        return config_from_dict(d)
    except ConfigError as e:
        if path is not None:
            raise ConfigError(f"{path}: {e}") from None
        raise
