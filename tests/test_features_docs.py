"""The code blocks of docs/features.md run as written (the encoder block prints the extra's message
when the 'text' extra is absent)."""
import re
from pathlib import Path

import pytest
import torch
import yaml

from darts_gnn.config import config_from_dict

DOC = Path(__file__).resolve().parent.parent / "docs" / "features.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(autouse=True)
def one_thread(tmp_path, monkeypatch):
    monkeypatch.setenv("DARTS_GNN_FEATURE_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_docs_have_examples():
    assert len(_blocks("python")) == 4 and len(_blocks("yaml")) == 1


@pytest.mark.parametrize("index", range(4))
def test_python_block_runs(index, capsys):
    exec(compile(_blocks("python")[index], f"{DOC.name}[{index}]", "exec"), {"__name__": "doc_example"})
    out = capsys.readouterr().out.strip()
    assert out
    if index == 0:
        assert out.startswith("(2, 384)") or "pip install -e '.[text]'" in out


def test_yaml_block_is_a_valid_features_section():
    cfg = config_from_dict(yaml.safe_load(_blocks("yaml")[0]))
    assert cfg.features.items == "movielens" and cfg.features.id_offset == 1
    from darts_gnn.space.fusion import FeatureSpace
    from darts_gnn.space.registry import REGISTRY
    FeatureSpace.from_dict(cfg.features.space).check(REGISTRY)
