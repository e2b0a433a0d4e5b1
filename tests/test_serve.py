"""The library recommender: evaluator-equal ranking, masking, caps, filters, cold start, explanations."""
import numpy as np
import pytest
import torch

from darts_gnn import Evaluator, Genotype, Graph, LightGCN, make_synthetic
from darts_gnn.config import SyntheticConfig, config_to_dict, Config
from darts_gnn.errors import UserError
from darts_gnn.tasks.metrics import _csr_rows, rank_metrics, topk_items
from darts_gnn.nn import MF, NGCF
from darts_gnn.serve import Recommender, UnknownIdError, ann_recall, build_bundle, linear_form


@pytest.fixture(scope="module")
def data():
    ds = make_synthetic(SyntheticConfig(n_users=70, n_items=90, interactions_per_user=14), seed=3)
    return ds, Graph.from_dataset(ds, "train")


def _config(name="lightgcn", dim=16, n_layers=2):
    cfg = Config()
    cfg.model.name, cfg.model.dim, cfg.model.n_layers = name, dim, n_layers
    return config_to_dict(cfg)


def _lightgcn(data, seed=0):
    ds, graph = data
    torch.manual_seed(seed)
    return LightGCN(graph, dim=16, n_layers=2)


def _rec(model, data, seen=("train", "valid", "test"), genotype=None, config=None, **kw):
    ds, graph = data
    return Recommender(build_bundle(model, ds, graph, config=config or _config(), genotype=genotype,
                                    seen_splits=seen), **kw)


def _evaluator_topk(model, ds, k):
    """The evaluator's own top-K lists for split="test" (its exact code path, all users)."""
    ev = Evaluator(ds, ks=(k,))
    users = ev.users("test")
    mask_ptr, mask_items = ds.user_items(*ev._MASK["test"])
    with torch.no_grad():
        u, i = model.embeddings()
    out = []
    for batch in users.split(ev.batch_users):
        scores = u[batch] @ i.t()
        rows, cols = _csr_rows(mask_ptr, mask_items, batch)
        scores[rows, cols] = float("-inf")
        out.append(topk_items(scores, k))
    return users, torch.cat(out)


def test_served_lists_equal_the_evaluators_topk(data):
    ds, _ = data
    model = _lightgcn(data)
    rec = _rec(model, data, seen=("train", "valid"), batch_users=7)  # other block size than the evaluator's
    users, expected = _evaluator_topk(model, ds, 20)
    got = rec.recommend([str(u) for u in users.tolist()], k=20)
    assert [r.items for r in got] == [[str(i) for i in row] for row in expected.tolist()]
    # and the metrics of the served lists are the evaluator's numbers
    served = torch.tensor([[int(i) for i in r.items] for r in got])
    truth_ptr, truth_items = ds.user_items("test")
    m = rank_metrics(served, truth_ptr, truth_items, users, (20,))
    ev = Evaluator(ds, ks=(20,)).evaluate(model, "test")
    assert float(m["recall@20"].mean()) == pytest.approx(ev["recall@20"], abs=1e-12)
    assert float(m["ndcg@20"].mean()) == pytest.approx(ev["ndcg@20"], abs=1e-12)


def test_ties_go_to_the_lowest_item_id(data):
    ds, graph = data
    torch.manual_seed(1)
    model = MF(ds.n_users, ds.n_items, dim=8)
    with torch.no_grad():
        model.item_emb.weight[40:] = model.item_emb.weight[39]   # 50 items with identical scores
        model.user_emb.weight[:] = model.item_emb.weight[39]     # ... that are every user's best
    rec = _rec(model, data, config=_config("mf", dim=8))
    for r in rec.recommend(["0", "1", "2"], k=10):
        seen = set(rec._seen(int(r.user)).tolist())
        tied = [str(i) for i in range(39, ds.n_items) if i not in seen]
        assert r.items == tied[:10]


def test_no_seen_item_is_ever_served_and_k_is_capped(data):
    ds, _ = data
    rec = _rec(_lightgcn(data), data)
    rowptr, items = ds.user_items("train", "valid", "test")
    k = ds.n_items  # more than any user's unseen items
    for r in rec.recommend(list(range(ds.n_users)), k=k):
        u = int(r.user)
        seen = set(items[rowptr[u]:rowptr[u + 1]].tolist())
        assert not seen & {int(i) for i in r.items}
        assert len(r.items) == ds.n_items - len(seen) and r.capped
        assert all(np.isfinite(r.scores)) and r.scores == sorted(r.scores, reverse=True)


def test_user_ids_are_validated_strictly(data):
    rec = _rec(_lightgcn(data), data)
    assert rec.recommend([3], k=2)[0].items == rec.recommend(["3"], k=2)[0].items
    for bad in ("03", "70", "-1", " 3"):
        with pytest.raises(UnknownIdError, match="unknown user id"):
            rec.recommend([bad], k=2)
    for bad in (True, 3.0, None):
        with pytest.raises(UserError, match="expected a string or an integer"):
            rec.recommend([bad], k=2)
    for k in (0, -1, 2.5, True):
        with pytest.raises(UserError, match="k: expected a positive integer"):
            rec.recommend(["1"], k=k)


def test_filter_restricts_the_candidates(data):
    rec = _rec(_lightgcn(data), data)
    allowed = {str(i) for i in range(0, 90, 3)}
    for f in (allowed, lambda item: item in allowed):
        r = rec.recommend(["4"], k=90, filter=f)[0]
        assert r.items and set(r.items) <= allowed
        unseen = allowed - {str(i) for i in rec._seen(4).tolist()}
        assert set(r.items) == unseen
    with pytest.raises(UnknownIdError, match="filter: unknown item id"):
        rec.recommend(["4"], k=3, filter=["nope"])


def test_cold_start_user_gets_popular_unseen_items():
    from darts_gnn.data import Dataset
    train = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 1], [2, 3]])
    ds = Dataset("tiny", 4, 5, train, np.zeros((0, 2)), np.array([[3, 2]]))  # user 3: test only
    graph = Graph.from_dataset(ds, "train")
    torch.manual_seed(0)
    model = LightGCN(graph, dim=4, n_layers=1)
    rec = Recommender(build_bundle(model, ds, graph, config=_config(dim=4, n_layers=1)))
    cold, warm = rec.recommend(["3", "0"], k=3, explain=True)
    assert cold.strategy == "popularity" and warm.strategy == "model"
    # item 1 (3 interactions) first; ties (items 0 and 3, one each) by id; item 2 is seen (test)
    assert cold.items == ["1", "0", "3"] and cold.scores == [3.0, 1.0, 1.0]
    assert cold.explanations[0]["method"] == "popularity"
    assert not {"0", "1"} & set(warm.items)


def _decomposition_matches(rec, users, k=5):
    ex = rec.explainer()
    assert ex.exact
    for u in users:
        r = rec.recommend([u], k=k, explain=True)[0]
        parts = ex.explain(int(u), [int(i) for i in r.items])
        for e, served, shown in zip(parts, r.scores, r.explanations):
            total = e["self"] + e["other"] + float(e["values"].sum())
            assert total == pytest.approx(e["score"], rel=1e-12, abs=1e-15)       # exact, float64
            assert e["by_layer"].sum(0).numpy() == pytest.approx(e["values"].numpy(), rel=1e-12, abs=1e-15)
            assert e["score"] == pytest.approx(served, rel=1e-4, abs=1e-6)         # the served float32 score
            listed = shown["self"] + sum(c["value"] for c in shown["because"]) + shown["rest"]
            assert listed == pytest.approx(shown["score"], rel=1e-12)
            assert shown["exact"] and all(c["kind"] == "item" for c in shown["because"])
            values = [c["value"] for c in shown["because"]]
            assert values == sorted(values, reverse=True)


def test_linear_explanations_sum_to_the_score_lightgcn(data):
    _decomposition_matches(_rec(_lightgcn(data), data), ["0", "9", "33"])


def test_linear_explanations_sum_to_the_score_genotypes(data):
    ds, graph = data
    g = Genotype(({"aggregator": "mean", "transform": "linear", "skip": "residual"},
                  {"aggregator": "sum", "transform": "identity", "skip": "none"},
                  {"aggregator": "gcn", "transform": "identity", "skip": "residual"}), "learned", 16)
    torch.manual_seed(2)
    model = g.build_model(graph=graph)
    with torch.no_grad():
        model.combine.logits.copy_(torch.tensor([0.3, -0.2, 0.1, 0.5]))
        for layer in model.layers:  # small weights keep the unnormalised sum layer's scale moderate
            if hasattr(layer.transform, "linear"):
                layer.transform.linear.weight.mul_(0.3)
                layer.transform.linear.bias.normal_(0, 0.05)
    assert linear_form(model) is not None
    _decomposition_matches(_rec(model, data, genotype=g), ["1", "20"])


def test_neighbour_contributions_are_the_users_own_interactions(data):
    ds, _ = data
    rec = _rec(_lightgcn(data), data)
    r = rec.recommend(["5"], k=3, explain=True)[0]
    train = {str(i) for u, i in ds.train.tolist() if u == 5}
    for e in r.explanations:
        assert {c["id"] for c in e["because"]} <= train
        assert e["text"].startswith("because you interacted with ")


def test_nonlinear_models_get_gradient_x_input_marked_approximate(data):
    ds, graph = data
    torch.manual_seed(0)
    model = NGCF(graph, dim=8, n_layers=2)
    assert linear_form(model) is None
    rec = _rec(model, data, config=_config("ngcf", dim=8))
    r = rec.recommend(["2"], k=3, explain=True)[0]
    for e, s in zip(r.explanations, r.scores):
        assert e["exact"] is False and "approximate" in e["method"]
        assert e["score"] == pytest.approx(s, rel=1e-5)
        assert e["because"]
    g = Genotype(({"aggregator": "max", "transform": "linear_act", "skip": "none"},), "mean", 8)
    assert linear_form(g.build_model(graph=graph)) is None


def test_ann_index_recall_and_no_seen_items(data):
    pytest.importorskip("faiss")
    ds, _ = data
    exact = _rec(_lightgcn(data), data)
    approx = _rec(_lightgcn(data), data).use_ann(m=16, ef_search=64)
    users = [str(u) for u in range(ds.n_users)]
    a, e = approx.recommend(users, k=10), exact.recommend(users, k=10)
    rowptr, items = ds.user_items("train", "valid", "test")
    for r in a:
        u = int(r.user)
        assert not set(items[rowptr[u]:rowptr[u + 1]].tolist()) & {int(i) for i in r.items}
    assert ann_recall(e, a) > 0.9  # 90 items: HNSW is close to exact here
    assert approx.info()["retrieval"] == "ann"


def test_single_user_requests_rank_like_the_evaluators_large_blocks():
    """BLAS rounds a 1-row product differently from a large block; near ties must not flip."""
    ds = make_synthetic(SyntheticConfig(n_users=120, n_items=160), seed=1)
    torch.manual_seed(0)
    model = MF(ds.n_users, ds.n_items, 64)
    with torch.no_grad():  # item pairs whose scores differ by about one float32 ulp
        w = model.item_emb.weight
        w[1::2] = w[0::2] * (1 + 1e-7 * torch.randn(80, 64))
    rec = Recommender(build_bundle(model, ds, None, seen_splits=("train", "valid")))
    users, expected = _evaluator_topk(model, ds, 20)
    expected = [[str(i) for i in row] for row in expected.tolist()]
    single = [rec.recommend([str(u)], k=20)[0].items for u in users.tolist()]
    assert single == expected and rec.rescored > 0
    rec.GEMM_ROWS = 1  # without the re-scoring, the one-row kernel's order differs somewhere
    assert [rec.recommend([str(u)], k=20)[0].items for u in users.tolist()] != expected
