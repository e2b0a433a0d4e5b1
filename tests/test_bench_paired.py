"""The paired comparisons that ``bench_issue9.py --merge`` prints: per data set and pooled with a
one-sided lower confidence bound."""
import math
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from paired_table import paired_markdown, paired_rows, pooled_rows, student_t_quantile  # noqa: E402


@pytest.mark.parametrize("df, want", [(1, 6.3138), (4, 2.1318), (19, 1.7291), (30, 1.6973), (200, 1.6525)])
def test_student_t_quantile_matches_the_tables(df, want):
    assert student_t_quantile(0.95, df) == pytest.approx(want, abs=2e-4)


def test_student_t_quantile_rejects_a_lower_tail_or_no_freedom():
    with pytest.raises(ValueError, match="0.5 <= p < 1"):
        student_t_quantile(0.05, 3)
    with pytest.raises(ValueError, match="df >= 1"):
        student_t_quantile(0.95, 0)


def _row(seed, **methods):
    return {"seed": seed, **{k: {"recall@20": r, "ndcg@20": n} for k, (r, n) in methods.items()}}


REPORT = {"datasets": {
    "a": [_row(0, darts=(0.30, 0.40), random=(0.29, 0.40)), _row(1, darts=(0.31, 0.41), random=(0.32, 0.39)),
          _row(2, darts=(0.33, 0.42), random=(0.30, 0.40)), _row(3, darts=(0.30, 0.40))],
    "b": [_row(0, darts=(0.20, 0.10), random=(0.25, 0.10), evolution=(0.20, 0.10))]}}


def test_paired_rows_count_only_seeds_where_both_ran():
    rows = {(r["dataset"], r["other"], r["metric"]): r for r in paired_rows(REPORT, "darts", ("random", "evolution"),
                                                                          ("recall@20", "ndcg@20"))}
    a = rows[("a", "random", "recall@20")]
    d = [0.01, -0.01, 0.03]
    assert a["n"] == 3 and (a["wins"], a["losses"], a["ties"]) == (2, 1, 0)
    assert a["mean"] == pytest.approx(statistics.fmean(d))
    assert a["t"] == pytest.approx(statistics.fmean(d) / (statistics.stdev(d) / math.sqrt(3)))
    assert ("a", "evolution", "recall@20") not in rows                     # data set a never ran evolution
    b = rows[("b", "evolution", "ndcg@20")]
    assert (b["n"], b["ties"]) == (1, 1) and math.isnan(b["t"])            # one seed: no t


def test_pooled_rows_are_relative_and_bound_below_the_mean():
    pooled = {(r["other"], r["metric"]): r for r in pooled_rows(REPORT, "darts", ("random",), ("recall@20",))}
    rel = [0.30 / 0.29 - 1, 0.31 / 0.32 - 1, 0.33 / 0.30 - 1, 0.20 / 0.25 - 1]
    r = pooled[("random", "recall@20")]
    assert (r["n"], r["datasets"]) == (4, 2)
    assert r["mean"] == pytest.approx(statistics.fmean(rel))
    se = statistics.stdev(rel) / 2
    assert r["bound"] == pytest.approx(statistics.fmean(rel) - student_t_quantile(0.95, 3) * se)
    assert r["bound"] < r["mean"]


def test_markdown_has_both_tables_or_nothing():
    text = paired_markdown(REPORT, "darts", ("random",), ("recall@20",))
    assert "| a | random | recall@20 | 3 |" in text and "| random | recall@20 | 4 | 2 |" in text
    assert paired_markdown(REPORT, "darts", ("tuned",), ("recall@20",)) == ""


def test_one_seed_shows_dashes_not_nan():
    text = paired_markdown({"datasets": {"a": [_row(0, darts=(0.3, 0.4), random=(0.2, 0.4))]}}, "darts", ("random",),
                           ("recall@20",))
    assert "nan" not in text and "| a | random | recall@20 | 1 | +0.1000 | — | 1 / 0 / 0 |" in text
    assert "| random | recall@20 | 1 | 1 | +50.00% | — | — |" in text


def test_the_threshold_counterfactual_keeps_the_incumbent_below_the_sidak_threshold():
    from incumbent_threshold import redecided_gain, runs
    cand = [{"stage": "incumbent"}] + [{"stage": "architecture"}] * 4     # k = 4: Šidák z = 2.23
    lg = {"recall@20": 0.2, "ndcg@20": 0.1, "best_valid": {"recall@20": 0.1}}

    def row(seed, gain, kept=False):
        return {"seed": seed, "lightgcn": lg, "darts": {"recall@20": 0.22, "ndcg@20": 0.11, "candidates": cand,
                                                         "paired": {"gain": gain, "se": 0.01, "z": 1.645,
                                                                    "kept_incumbent": kept}}}
    got = runs({"datasets": {"a": [row(0, 0.02), row(1, 0.03), row(2, 0.01, kept=True)]}})
    assert [r["k"] for r in got] == [4, 4, 4] and got[0]["resolution"] == pytest.approx(1.645 * 0.01 / 0.1)
    shipped = [redecided_gain(r, "recall@20", sidak=False) for r in got]
    sidak = [redecided_gain(r, "recall@20", sidak=True) for r in got]
    assert shipped == pytest.approx([0.1, 0.1, 0.0])                       # z 2 and 3 clear 1.645
    assert sidak == pytest.approx([0.0, 0.1, 0.0])                         # z 2 does not clear 2.23


def test_pool_spread_counts_finished_candidates_tied_with_the_best():
    from pool_spread import spreads, table

    def cand(score, stage="architecture", cut=False, deadline=False):
        return {"valid": {"recall@20": score}, "stage": stage, "cut": cut, "deadline": deadline}
    x = {"candidates": [cand(0.30, "incumbent"), cand(0.35), cand(0.345, "recipe"), cand(0.33),
                        cand(0.36, cut=True), cand(0.20, deadline=True)],
         "paired": {"gain": 0.05, "se": 0.004, "z": 1.645}}
    rep = {"datasets": {"a": [{"seed": 0, "darts": x, "random": {"candidates": x["candidates"], "paired": {}}}]}}
    got = spreads(rep)
    assert len(got) == 1                                                   # random recorded no se
    r = got[0]
    assert r["finished"] == 3 and r["range"] == pytest.approx(0.02)       # cut, deadline, incumbent left out
    assert r["tied"] == 2                                                  # 0.35 and 0.345: within 0.00658
    assert "| a | 1 | 3 | 0.0200 | 0.0040 | 2 |" in table(got)
