import json
import subprocess
import sys

import pytest
import torch

from darts_gnn.cli import main
from helpers import set_args

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "train.epochs=3", "train.eval_every=1", "train.batch_size=256", "train.progress=false",
        "model.dim=16", "model.n_layers=2"]


def _sets(extra=()):
    return set_args([*TINY, *extra])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *_sets(), "--out", str(run)]) == 0
    return run


def test_train_writes_the_run_directory(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.json", "model.pt"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert not [n for n in names if n.endswith(".tmp")]
    m = json.loads((trained_run / "metrics.json").read_text())
    for key in ("recall@20", "ndcg@20", "best_valid", "epochs", "seconds_per_epoch"):
        assert key in m
    assert 0.0 <= m["recall@20"] <= 1.0
    ckpt = torch.load(trained_run / "model.pt", weights_only=True)
    assert ckpt["format"] == 1 and ckpt["state_dict"]


def test_evaluate_reproduces_test_metrics(trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    m = json.loads((trained_run / "metrics.json").read_text())
    assert got["recall@20"] == pytest.approx(m["recall@20"], abs=1e-6)
    assert got["ndcg@20"] == pytest.approx(m["ndcg@20"], abs=1e-6)


def test_recommend_excludes_seen_items(trained_run, tmp_path):
    out = tmp_path / "recs.csv"
    assert main(["recommend", str(trained_run), "--users", "0", "5", "--k", "7", "--output", str(out)]) == 0
    rows = out.read_text().strip().splitlines()
    assert rows[0] == "user,rank,item,score" and len(rows) == 1 + 2 * 7
    from darts_gnn.cli.common import load_run
    _, ds, _, _ = load_run(trained_run)
    rowptr, items = ds.user_items("train", "valid", "test")
    seen0 = set(items[rowptr[0]:rowptr[1]].tolist())
    recs0 = [int(r.split(",")[2]) for r in rows[1:] if r.split(",")[0] == "0"]
    assert len(recs0) == 7 and not seen0 & set(recs0)


@pytest.mark.parametrize("argv, needle", [
    (["train", "--set", "train.epochz=1"], "unknown key 'train.epochz'"),
    (["train", "--set", "model.name=gat"], "allowed values"),
    (["train", "--config", "does/not/exist.yaml"], "not found"),
    (["evaluate", "no/such/run"], "not found"),
])
def test_bad_input_exits_2_with_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_malformed_data_file_exits_2_without_traceback(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "train.txt").write_text("0 1 2\n1 x 3\n")
    (d / "test.txt").write_text("0 3\n1 2\n")
    r = subprocess.run([sys.executable, "-m", "darts_gnn", "train", "--set", "data.source=lightgcn",
                        "--set", f"data.path={d}", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "train.txt" in r.stderr and ":2" in r.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()
