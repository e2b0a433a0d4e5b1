"""Reading a config: strict YAML, ``--set key=value`` overrides, then conversion and validation."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .convert import _from_dict
from .schema import Config
from .validate import validate

__all__ = ["load_config", "apply_overrides", "config_from_dict", "parse_yaml", "read_config_file"]


def config_from_dict(d: dict | None, cls: type = Config) -> Any:
    """Build and validate a config dataclass from a plain dict (e.g. parsed YAML)."""
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise ConfigError(f"expected a mapping at the top level of the config, got {type(d).__name__}")
    cfg = _from_dict(cls, d)
    validate(cfg)
    return cfg


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
