"""``darts-gnn search`` end to end on tiny synthetic data, and the searcher's state round trip."""
import csv
import json

import pytest
import torch

from darts_gnn.cli import main
from darts_gnn.config import load_config
from darts_gnn.data import Graph, load_dataset
from darts_gnn.space.genotype import Genotype
from darts_gnn.search import build_searcher
from helpers import set_args

TINY = ["data.synthetic.n_users=60", "data.synthetic.n_items=80", "data.synthetic.interactions_per_user=12",
        "data.split=random", "train.epochs=2", "train.batch_size=256", "train.progress=false",
        "search.epochs=3", "search.warmup_epochs=1", "search.n_layers=2",
        "search.space={widths: [8, 16], aggregators: [gcn, mean, max, attn]}", "model.dim=16", "model.n_layers=2"]


def _sets(extra=()):
    return set_args([*TINY, *extra])


def test_cli_search_end_to_end(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["search", *_sets(), "--out", str(run), "--compare-baseline"]) == 0
    out = capsys.readouterr().out
    assert "found architecture: w" in out and "lightgcn (baseline)" in out and "searched (retrained)" in out
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "genotype.json", "metrics.json", "alphas.csv", "alphas.png", "model.pt",
            "search.json"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert not [n for n in names if n.endswith(".tmp")]
    g = Genotype.load(run / "genotype.json")
    m = json.loads((run / "metrics.json").read_text())
    assert m["genotype"] == g.to_dict() and 0 <= m["recall@20"] <= 1 and 0 <= m["ndcg@20"] <= 1
    assert "baseline" in m and m["search_seconds"] > 0
    rows = list(csv.DictReader((run / "alphas.csv").open()))
    assert {r["epoch"] for r in rows} == {"-1", "0", "1", "2"}
    assert {"layer0.aggregator", "layer1.transform", "combine", "depth"} <= {r["choice"] for r in rows}
    assert "width" not in {r["choice"] for r in rows}   # fixed to model.dim by default (issue 9)
    sel = m["selection"]   # validated selection and its proxy diagnostics
    assert sel["selection"]["winner"] == g.to_dict() and sel["baseline_genotype"].startswith("w")
    assert 0 <= sel["baseline_one_shot"] <= 1 and "proxy_spearman" in sel and sel["total_seconds"] > 0
    # the saved genotype retrains with `train --genotype`, and `evaluate` reloads the searched model
    assert main(["train", *_sets(), "--genotype", str(run / "genotype.json"), "--out", str(tmp_path / "re")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["recall@20"] == pytest.approx(m["recall@20"], abs=1e-6)


def test_tensorboard_has_alpha_scalars_heatmap_and_genotype(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run = tmp_path / "run"
    assert main(["search", *_sets(["search.retrain=false", "search.derive=greedy"]), "--out", str(run)]) == 0
    acc = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    assert "alpha/layer0.aggregator/gcn" in tags["scalars"] and "search/loss_train" in tags["scalars"]
    assert "search/loss_valid" in tags["scalars"] and "search/valid_recall@20" in tags["scalars"]
    assert "alpha/heatmap" in tags["images"]
    assert any(t.startswith("alpha_logits/") for t in tags["histograms"])
    assert any(t.startswith("genotype") for t in tags["tensors"])
    assert any(t.startswith("genotype_derived") for t in tags["tensors"])
    search = json.loads((run / "search.json").read_text())
    # width is fixed to model.dim by default (search.width_search=fixed), so greedy starts at depth
    assert search["derive"] == "greedy" and search["derive_trace"][0]["choice"] == "depth"


def test_bad_search_config_is_one_line_exit_2(tmp_path, capsys):
    assert main(["search", "--set", "search.space={aggregators: [nope]}", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]


def test_searcher_state_dict_round_trip_resumes_identically():
    cfg = load_config(None, TINY + ["search.epochs=2", "search.warmup_epochs=0"])
    ds = load_dataset(cfg.data)
    graph = Graph.from_dataset(ds, "train")
    a = build_searcher(cfg, ds, graph, progress=False)
    a.run()
    b = build_searcher(cfg, ds, graph, progress=False)
    b.run(until=1)
    state = b.state_dict()
    c = build_searcher(cfg, ds, graph, progress=False)
    c.load_state_dict(state)
    assert c.epoch == 1
    c.run()
    for x, y in zip(a.model.arch_parameters(), c.model.arch_parameters()):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-6)
    assert a.model.genotype() == c.model.genotype()
