"""darts-gnn compare: every method retrained alike, mean ± std over seeds, markdown + JSON, resume."""
import json
import math

import pytest

from darts_gnn.experiments.compare import (METHODS, markdown_report, run_compare, seed_config, summarize,
                               trajectory_summary)
from darts_gnn.config import load_config
from darts_gnn.engine.rundir import RunDir

TINY = ["data.synthetic.n_users=80", "data.synthetic.n_items=110", "data.synthetic.interactions_per_user=10",
        "data.synthetic.n_communities=4", "train.epochs=3", "train.eval_every=1", "train.batch_size=256",
        "train.progress=false", "train.num_threads=1", "search.epochs=2", "search.warmup_epochs=1",
        "search.n_layers=1", "search.eval_every=0", "search.log_every=0"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = RunDir(tmp_path_factory.mktemp("cmp"))
    cfg = load_config(None, TINY)
    rep = run_compare(cfg, seeds=[0, 1], random_samples=2, run=run)
    return rep, run, cfg


def test_every_method_and_seed_is_reported(report):
    rep, run, _ = report
    assert [(r["method"], r["seed"]) for r in rep["rows"]] == [(m, s) for s in (0, 1) for m in METHODS]
    for r in rep["rows"]:
        assert 0.0 <= r["test"]["recall@20"] <= 1.0 and 0.0 <= r["test"]["ndcg@20"] <= 1.0
        assert r["retrain_seconds"] > 0 and r["retrain_epochs"] == 3
    by = {(r["method"], r["seed"]): r for r in rep["rows"]}
    # random search got the mean DARTS search time of its seed as budget
    for s in (0, 1):
        darts = [by[(m, s)]["search_seconds"] for m in METHODS[:3]]
        assert by[("random", s)]["budget_seconds"] == pytest.approx(sum(darts) / 3)
        assert by[("darts-gumbel", s)]["alpha"] and by[("darts-gumbel", s)]["trajectory"]
    assert by[("lightgcn", 0)]["search_seconds"] == 0.0
    saved = json.loads(run.file("compare.json").read_text())
    assert saved["summary"].keys() == set(METHODS) and len(saved["rows"]) == 12
    md = run.file("compare.md").read_text()
    assert md.startswith("| method | Recall@20 | NDCG@20 | search s | search epochs | retrain s | runs |")
    assert "| darts-sigmoid |" in md and "2/2" in md and "α at the end" in md
    import re
    run_rows = [ln for ln in md.splitlines() if ln.startswith("| darts-gumbel | 0 |")]
    assert run_rows and len(re.split(r"(?<!\\)\|", run_rows[0])) == 9  # genotype pipes escaped


def test_summary_is_mean_and_sample_std(report):
    rep, _, _ = report
    s = rep["summary"]["mf"]["recall@20"]
    vals = [r["test"]["recall@20"] for r in rep["rows"] if r["method"] == "mf"]
    assert s["mean"] == pytest.approx(sum(vals) / 2)
    assert s["std"] == pytest.approx(abs(vals[0] - vals[1]) / math.sqrt(2))
    one = summarize([{"method": "mf", "seed": 0, "test": {"recall@20": 0.5, "ndcg@20": 0.2},
                      "retrain_seconds": 1.0}], ["mf", "lightgcn"])
    assert one["mf"]["recall@20"]["std"] == 0.0 and "lightgcn" not in one


def test_same_seed_same_numbers_and_resume_skips_done_runs(report, tmp_path):
    rep, run, cfg = report
    calls = []
    # resume into a copy of the finished comparison: nothing is recomputed
    copy = RunDir(tmp_path / "copy")
    copy.write_json("compare.json", json.loads(run.file("compare.json").read_text()))
    again = run_compare(cfg, seeds=[0, 1], random_samples=2, run=copy, resume=True, on_row=calls.append)
    assert len(calls) == 12 and [r["test"] for r in again["rows"]] == [r["test"] for r in rep["rows"]]
    # a fresh run of the baselines reproduces the numbers (same seed, same protocol)
    fresh = run_compare(cfg, seeds=[1], methods=["lightgcn", "mf"])
    old = {(r["method"], r["seed"]): r["test"] for r in rep["rows"]}
    for r in fresh["rows"]:
        assert r["test"] == old[(r["method"], 1)]
    other = load_config(None, TINY + ["train.lr=0.01"])
    from darts_gnn.errors import UserError
    with pytest.raises(UserError, match="other settings"):
        run_compare(other, seeds=[0], run=copy, resume=True)


def test_seed_config_and_trajectory_summary():
    cfg = seed_config(load_config(None, []), 7)
    assert cfg.train.seed == 7 and cfg.search.seed == 7 and cfg.data.seed == load_config(None, []).data.seed
    traj = [{"epoch": -1, "weights": {"c": [0.5, 0.5]}}, {"epoch": 0, "weights": {"c": [0.6, 0.4]}},
            {"epoch": 1, "weights": {"c": [0.3, 0.7]}}, {"epoch": 2, "weights": {"c": [0.2, 0.8]}}]
    s = trajectory_summary(traj, {"c": ["a", "b"]})["c"]
    assert s["winner"] == "b" and s["since"] == 1 and s["switches"] == 1
    assert s["weight"] == pytest.approx(0.8) and s["entropy_start"] == pytest.approx(math.log(2))


def test_cli(tmp_path, capsys):
    from darts_gnn.cli import main
    sets = [x for s in TINY for x in ("--set", s)]
    out = tmp_path / "c"
    assert main(["compare", "--seeds", "1", "--methods", "mf", "random", "--random-seconds", "0.5",
                 "--random-samples", "2", "--out", str(out), *sets]) == 0
    text = capsys.readouterr().out
    assert "| mf |" in text and "| random |" in text and "compare.md" in text
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert rows[1]["budget_seconds"] == 0.5
    assert main(["compare", "--seeds", "0", *sets]) == 2
    assert main(["compare", "--resume", *sets]) == 2
    assert markdown_report({"rows": [], "methods": ["mf"], "seeds": [0]}).startswith("| method |")
