"""``benchmarks/pool_retrain.py``: candidates read back from their summaries, and the pool's summary."""
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from pool_retrain import finished, parse_summary, spearman, summarize, table  # noqa: E402

from darts_gnn.space.genotype import Genotype, LayerGene  # noqa: E402
from darts_gnn.space.recipe import Recipe  # noqa: E402


@pytest.mark.parametrize("g", [
    Genotype.lightgcn(3, 64),
    Genotype.mf(32).with_(norm=True, recipe=Recipe(loss="softmax", negatives=1024, temperature=0.2, lr=5e-3)),
    Genotype((LayerGene("gcn_a75", "linear", "residual"), LayerGene("sum")), "learned", 128,
             recipe=Recipe(lr=1e-3, l2=1e-4)),
    Genotype((LayerGene("mean"),), "last", 16, recipe=Recipe(loss="bpr", negatives=64)),
])
def test_a_summary_reads_back_to_the_same_genotype(g):
    assert parse_summary(g.summary()) == g


@pytest.mark.parametrize("text", ["LightGCN lr=0.001 l2=0.0001", "w64 | gcn>identity | combine=mean | what(M=3)",
                                  "w64 | gcn>identity | combine=mean | features=text"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError):
        parse_summary(text)


def test_finished_leaves_out_the_incumbent_and_cut_runs_but_keeps_deadline_stopped_ones():
    x = {"candidates": [dict(c, genotype=f"g{i}", valid=0.3) for i, c in enumerate([
        {"stage": "incumbent"}, {"stage": "architecture", "cut": True}, {"stage": "recipe"},
        {"stage": "architecture", "deadline": True}, {"stage": "architecture", "cut": False}])]}
    assert finished(x) == x["candidates"][2:]


def test_a_genotype_trained_twice_counts_once_with_its_better_run_at_its_first_place():
    runs = [("a", 0.30, True), ("b", 0.33, False), ("a", 0.34, False), ("b", 0.31, False)]
    x = {"candidates": [{"genotype": g, "valid": {"recall@20": v}, "stage": "architecture", "deadline": d}
                        for g, v, d in runs]}
    kept = finished(x)
    assert [c["genotype"] for c in kept] == ["a", "b"]
    assert [c["valid"]["recall@20"] for c in kept] == [0.34, 0.33]


def test_spearman_ranks_with_ties_and_needs_three_pairs():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    assert math.isnan(spearman([1, 2], [1, 2])) and math.isnan(spearman([1, 2, 3], [5, 5, 5]))


def test_the_pool_summary_separates_pick_mean_and_best():
    cands = [{"genotype": g, "valid": v, "test": {"recall@20": t, "ndcg@20": t / 2}}
             for g, v, t in (("a", 0.30, 0.33), ("b", 0.32, 0.31), ("c", 0.31, 0.35))]
    s = summarize(cands, "b")
    assert s["recall@20"] == pytest.approx({"mean": 0.33, "best": 0.35, "pick": 0.31})
    assert s["spearman"] == pytest.approx(-0.5)
    text = table([{"dataset": "x", "seed": 0, "summary": s}])
    assert "| x | 0 |  | 3 | -0.50 | 0.3300 | 0.3100 | 0.3500 |" in text and "| mean | | | 3.0 |" in text


def test_the_merged_table_separates_own_architectures_from_the_shared_runs():
    from pool_retrain import merged_table, own

    def cand(g, v, t, stage="architecture", shallow=False):
        return {"genotype": g, "valid": v, "test": {"recall@20": t, "ndcg@20": t / 2}, "stage": stage,
                "shallow": shallow}
    cands = [cand("anchor", 0.31, 0.30, "recipe"), cand("mf", 0.33, 0.40, shallow=True), cand("a", 0.32, 0.34),
             cand("b", 0.30, 0.36), cand("b", 0.28, 0.36)]       # b twice: one architecture
    assert [c["genotype"] for c in own(cands)] == ["a", "b", "b"]
    run = {"dataset": "x", "seed": 0, "picked": "a", "candidates": cands, "summary": summarize(cands, "a")}
    text = merged_table([{"method": "darts", "runs": [run]}])
    # pick a: 0.34; own mean (a, b): 0.35; the recipe stage's run: 0.30; the pool's best (mf): 0.40
    assert "| darts | 1 | 2 | 0.3400 / 0.1700 | 0.3500 / 0.1750 | 0.3000 / 0.1500 | 0.4000 / 0.2000 |" in text
    assert "| x | 0 | darts | 4 |" in text


def test_extend_keeps_the_earlier_candidates_without_training_them(tmp_path, capsys):
    from pool_retrain import main
    g = Genotype.lightgcn(1, 8).summary()
    cand = {"genotype": g, "valid": {"recall@20": 0.2}, "stage": "architecture", "cut": False, "deadline": True}
    report = {"datasets": {"syn": [{"seed": 0, "darts": {"genotype": g, "recall@20": 0.3, "ndcg@20": 0.2,
                                                         "candidates": [cand]}}]}}
    earlier = {"runs": [{"dataset": "syn", "seed": 0, "candidates": [
        {"genotype": g, "valid": 0.2, "test": {"recall@20": 0.31, "ndcg@20": 0.21}, "stage": "architecture",
         "shallow": False}]}]}
    (tmp_path / "r.json").write_text(__import__("json").dumps(report))
    (tmp_path / "e.json").write_text(__import__("json").dumps(earlier))
    assert main([str(tmp_path / "r.json"), "--datasets", "syn=search_synthetic.yaml", "--extend",
                 str(tmp_path / "e.json"), "--out", str(tmp_path / "out")]) == 0
    got = __import__("json").loads((tmp_path / "out" / "pool_retrain.json").read_text())
    assert got["runs"][0]["candidates"] == earlier["runs"][0]["candidates"]     # nothing trained again
    assert got["runs"][0]["summary"]["recall@20"]["pick"] == pytest.approx(0.31)
    assert "[syn seed 0" not in capsys.readouterr().out
