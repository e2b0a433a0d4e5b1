"""Checks beyond the types: value ranges, and names against :mod:`darts_gnn.registries`."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from .. import registries
from ..errors import ConfigError
from .convert import _from_dict
from .schema import Config

__all__ = ["validate", "validate_registered", "REGISTERED"]

# Keys whose value must be a name in a registry (darts_gnn.registries): checked at load, so that a
# component registered by user code is usable from YAML and an unknown name fails early.
REGISTERED: dict[str, registries.NamedRegistry] = {
    "model.name": registries.MODELS,
    "search.strategy": registries.STRATEGIES,
    "search.derive": registries.DERIVATIONS,
}


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


def _check_values(key: str, entries: list | None) -> None:
    """A null or a non-empty list whose every entry the parser registered for ``key`` in
    :data:`darts_gnn.registries.VALUE_CHECKS` accepts (e.g. ``search.select_recipes``: recipe mappings)."""
    if entries is None:
        return
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{key}: expected a non-empty list of mappings or null, got {entries!r}")
    check = registries.VALUE_CHECKS.get(key)
    for i, entry in enumerate(entries):
        try:
            check(entry)
        except ValueError as e:
            raise ConfigError(f"{key}[{i}]: {e}") from None


def validate_registered(cfg: Config) -> None:
    """Names checked against :mod:`darts_gnn.registries` (model, strategy, derivation, relaxation) and
    the chosen strategy's own option section (``search.options`` for a strategy that is not built in)."""
    _registered("model.name", cfg.model.name)
    _registered("search.strategy", cfg.search.strategy)
    _registered("search.derive", cfg.search.derive)
    _check_relaxation(cfg.search.relaxation)
    _check_values("search.select_recipes", cfg.search.select_recipes)
    opts = registries.STRATEGIES.options(cfg.search.strategy)
    if cfg.search.options and not (isinstance(opts, type) and dataclasses.is_dataclass(opts)):
        raise ConfigError(f"search.options: the {cfg.search.strategy} strategy takes no search.options; "
                          f"remove the key")
    if isinstance(opts, type) and dataclasses.is_dataclass(opts) and not hasattr(cfg.search, cfg.search.strategy):
        _from_dict(opts, cfg.search.options, "search.options")
