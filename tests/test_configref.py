"""docs/config.md is generated from the config schema and must be current."""
import dataclasses
from pathlib import Path

from darts_gnn import registries
from darts_gnn.config import TaskConfig
from darts_gnn.config.reference import config_keys, reference_markdown

PAGE = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def test_reference_page_is_current():
    assert PAGE.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/config.md is stale: run `python -m darts_gnn.config.reference > docs/config.md`"


def test_every_key_is_on_the_page():
    text = reference_markdown()
    keys = [k for k, _, _ in config_keys()]
    assert "train.lr" in keys and "data.synthetic.n_users" in keys
    for key in keys:
        assert f"| `{key}` |" in text


def test_every_registered_task_key_is_on_the_page():
    """A task's own keys (its registered options dataclass) are documented under ``task``."""
    text = reference_markdown()
    base = {f.name for f in dataclasses.fields(TaskConfig)}
    extra = [(name, f.name) for name in registries.TASKS.names()
             if dataclasses.is_dataclass(cls := registries.TASKS.options(name))
             for f in dataclasses.fields(cls) if f.name not in base]
    assert ("rating", "decoder") in extra and ("social", "item_weight") in extra
    for name, key in extra:
        assert f"## `task` with `name: {name}`" in text
        assert f"| `task.{key}` |" in text
