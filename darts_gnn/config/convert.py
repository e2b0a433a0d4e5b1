"""Plain dicts <-> config dataclasses: every value checked against its field's annotation."""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from .. import registries
from ..errors import ConfigError
from .robust import MOVED_KEYS
from .schema import CHOICES, TaskConfig

__all__ = ["config_to_dict"]


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
        if k not in names and key in MOVED_KEYS:
            raise ConfigError(f"unknown key {key!r}: it moved to {MOVED_KEYS[key]!r} (a nested section)")
        if k not in names:
            raise ConfigError(f"unknown key {key!r}; allowed keys{' in ' + prefix if prefix else ''}: "
                              f"{', '.join(names)}")
        kwargs[k] = _coerce(v, hints[k], key)
        if key in CHOICES and kwargs[k] not in CHOICES[key]:
            raise ConfigError(f"{key}: got {kwargs[k]!r}; allowed values: {', '.join(CHOICES[key])}")
    return cls(**kwargs)


def config_to_dict(cfg: Any) -> dict:
    """Plain nested dict of a config dataclass (for YAML/JSON output)."""
    return dataclasses.asdict(cfg)


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
