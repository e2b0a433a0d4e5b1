"""Features through the config and the CLI: train --genotype with content, search with the fusion searched."""
import json
import subprocess
import sys

import numpy as np
import pytest

from darts_gnn.cli import main
from darts_gnn.config import ConfigError, load_config
from darts_gnn.space.genotype import Genotype
from darts_gnn.space.fusion import FeatureGene

TINY = ["data.synthetic.n_users=40", "data.synthetic.n_items=50", "data.synthetic.interactions_per_user=8",
        "train.epochs=2", "train.eval_every=1", "train.batch_size=128", "train.progress=false"]


def _sets(items):
    out = []
    for s in TINY + items:
        out += ["--set", s]
    return out


@pytest.fixture
def item_file(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "items.npz"
    np.savez(p, ids=np.array([str(i) for i in range(50)]), x=rng.normal(size=(50, 6)).astype(np.float32))
    return p


def test_features_config_is_validated():
    cfg = load_config(None, ["features.items=x.npz", "features.missing=mean"])
    assert cfg.features.items == "x.npz" and cfg.features.missing == "mean"
    for bad, needle in [("features.missing=guess", "features.missing: expected one of error, zero, mean"),
                        ("features.items=x.txt", "features.items: expected none, movielens or a"),
                        ("features.items=movielens", "needs features.movielens_dir"),
                        ("features.batch_size=0", "features.batch_size"),
                        ("features.colour=red", "unknown key 'features.colour'"),
                        ("features.space={where: [input]}", r"features.space: unknown key\(s\) \['where'\]")]:
        with pytest.raises(ConfigError, match=needle):
            load_config(None, [bad])


def test_train_genotype_with_content_features(tmp_path, item_file):
    g = Genotype(Genotype.lightgcn(1, 8).layers, "mean", 8, features=FeatureGene("id+content", "whiten", "gate", "late"))
    g.save(tmp_path / "g.json")
    run = tmp_path / "run"
    assert main(["train", *_sets([f"features.items={item_file}"]), "--genotype", str(tmp_path / "g.json"),
                 "--out", str(run)]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert "features=id+content/whiten/gate@late" in m["model"] and 0.0 <= m["recall@20"] <= 1.0
    assert main(["evaluate", str(run), "--json"]) == 0          # the checkpoint reloads with its features


def test_content_genotype_without_features_exits_2(tmp_path, capsys):
    g = Genotype((), "mean", 8, features=FeatureGene("content", "linear"))
    g.save(tmp_path / "g.json")
    r = subprocess.run([sys.executable, "-m", "darts_gnn", "train", *_sets([]), "--genotype", str(tmp_path / "g.json"),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 2 and "pass item_features" in r.stderr and "Traceback" not in r.stderr


def test_missing_feature_rows_exit_2_with_one_line(tmp_path):
    p = tmp_path / "items.csv"
    p.write_text("id,a\n" + "".join(f"{i},{i}\n" for i in range(45)))    # 5 of 50 items missing
    g = Genotype((), "mean", 8, features=FeatureGene("content", "linear"))
    g.save(tmp_path / "g.json")
    r = subprocess.run([sys.executable, "-m", "darts_gnn", "train", *_sets([f"features.items={p}"]),
                        "--genotype", str(tmp_path / "g.json"), "--out", str(tmp_path / "run")],
                       capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "items.csv: 5 of 50 item ids have no feature row" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_search_searches_the_fusion(tmp_path, item_file):
    run = tmp_path / "s"
    # no incumbent, no lead stage and no spare budget: on 50 items the plain LightGCN baseline (with the
    # incumbent's protocol, or with the recipe that wins on it) or one of its plain neighbours would
    # win, and this test is about the genotype the search writes, fusion included
    args = _sets([f"features.items={item_file}", "search.epochs=2", "search.warmup_epochs=0", "search.n_layers=1",
                  "search.eval_every=0", "search.log_every=0", "features.space={transforms: [linear, whiten]}",
                  "search.select_incumbent=false", "search.select_lead=false", "search.select_spare=false"])
    assert main(["search", *args, "--out", str(run)]) == 0
    g = json.loads((run / "genotype.json").read_text())
    assert set(g["features"]) == {"source", "transform", "fusion", "at"}
    assert g["features"]["transform"] in ("linear", "whiten")
    assert main(["train", *_sets([f"features.items={item_file}"]), "--genotype", str(run / "genotype.json"),
                 "--out", str(tmp_path / "re")]) == 0
