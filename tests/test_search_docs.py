"""The Python examples in docs/search.md run as written."""
import re
from pathlib import Path

import pytest

from darts_gnn.space.registry import REGISTRY

DOC = Path(__file__).resolve().parent.parent / "docs" / "search.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_docs_have_examples():
    assert len(_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_doc_example_runs(index, capsys):
    before = {k: set(REGISTRY.names(k)) for k in ("aggregator", "transform", "skip", "combine")}
    try:
        exec(compile(_blocks()[index], f"{DOC.name}[{index}]", "exec"), {"__name__": "doc_example"})
    finally:
        for kind, names in before.items():
            for extra in set(REGISTRY.names(kind)) - names:
                REGISTRY.unregister(kind, extra)
    assert capsys.readouterr().out.strip()
