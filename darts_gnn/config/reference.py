"""The configuration reference page, generated from the config schema (the dataclasses themselves).

``docs/config.md`` is this module's output; a test fails when the page is stale. Regenerate it with::

    python -m darts_gnn.config.reference > docs/config.md

Each section of :class:`~darts_gnn.config.Config` becomes a table of its keys: the dotted key, the
type, the default and the allowed values (from :data:`darts_gnn.config.CHOICES` and, for
registry-backed keys, the registry's names at generation time), under the section's docstring.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import typing
from typing import Any

from .. import registries
from . import schema as _config

__all__ = ["reference_markdown", "config_keys"]

HEADER = """# Configuration reference

Generated from the config schema by `python -m darts_gnn.config.reference > docs/config.md`; a test fails
when this page and the code disagree. Every key is checked when the config is loaded: an unknown
key, a wrong type or a value outside its range is one line naming the key, and `darts-gnn` exits
with code 2. Override any key on the command line with `--set section.key=value` (the value is
parsed as YAML).
"""


def _type_text(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        args = typing.get_args(tp)
        return " or ".join("null" if a is type(None) else _type_text(a) for a in args)
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        return f"list of {_type_text(inner)}"
    if origin is dict:
        return "mapping"
    if dataclasses.is_dataclass(tp):
        return "section"
    return {int: "integer", float: "number", str: "string", bool: "true/false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _default_text(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return "(required)"
    if dataclasses.is_dataclass(value):
        return "(section)"
    return "`" + json.dumps(value) + "`"


def _allowed(key: str, f: dataclasses.Field) -> str:
    choices = getattr(_config, "CHOICES", {}).get(key)
    if choices is None and "allowed" in f.metadata:
        choices = f.metadata["allowed"]
    if callable(choices):
        choices = choices()
    return ", ".join(f"`{c}`" for c in choices) if choices else ""


def config_keys(cls: type = None, prefix: str = "") -> list[tuple[str, dataclasses.Field, Any]]:
    """Every leaf key of the config schema as ``(dotted key, field, type)``, in declaration order."""
    cls = cls or _config.Config
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.extend(config_keys(tp, key + "."))
        else:
            out.append((key, f, tp))
    return out


def _sections(cls: type, prefix: str = "") -> list[tuple[str, type]]:
    hints = typing.get_type_hints(cls)
    out = [(prefix.rstrip("."), cls)]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.extend(_sections(hints[f.name], f"{prefix}{f.name}."))
    return out


def reference_markdown() -> str:
    """The whole reference page as Markdown (deterministic: same code, same text)."""
    parts = [HEADER]
    for name, cls in _sections(_config.Config):
        title = name or "top level"
        doc = inspect.cleandoc(cls.__doc__ or "")
        parts.append(f"\n## `{title}` ({cls.__name__})\n")
        if doc:
            parts.append(doc + "\n")
        hints = typing.get_type_hints(cls)
        rows = [(f"{name + '.' if name else ''}{f.name}", f, hints[f.name]) for f in dataclasses.fields(cls)
                if not dataclasses.is_dataclass(hints[f.name])]
        if not rows:
            continue
        parts.append("\n| key | type | default | allowed values |\n|---|---|---|---|\n")
        for key, f, tp in rows:
            parts.append(f"| `{key}` | {_type_text(tp)} | {_default_text(f)} | {_allowed(key, f)} |\n")
    parts.extend(_task_sections())
    return "".join(parts)


def _task_sections() -> list[str]:
    """One section per registered task whose options dataclass adds keys to ``task`` (``task.name: X``)."""
    parts = []
    base = {f.name for f in dataclasses.fields(_config.TaskConfig)}
    for name in registries.TASKS.names():
        cls = registries.TASKS.options(name)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            continue
        hints = typing.get_type_hints(cls)
        rows = [f for f in dataclasses.fields(cls) if f.name not in base]
        if not rows:
            continue
        parts.append(f"\n## `task` with `name: {name}` ({cls.__name__})\n")
        doc = inspect.cleandoc(cls.__doc__ or "")
        if doc:
            parts.append(doc + "\n")
        parts.append("\n| key | type | default | allowed values |\n|---|---|---|---|\n")
        for f in rows:
            key = f"task.{f.name}"
            parts.append(f"| `{key}` | {_type_text(hints[f.name])} | {_default_text(f)} | {_allowed(key, f)} |\n")
    return parts


if __name__ == "__main__":  # pragma: no cover - exercised through the docs test
    sys.stdout.write(reference_markdown())
