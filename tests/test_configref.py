"""docs/config.md is generated from the config schema and must be current."""
from pathlib import Path

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
