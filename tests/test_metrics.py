"""Evaluator and ranking metrics against hand-computed values."""
import math

import numpy as np
import pytest
import torch

from darts_gnn.data.dataset import Dataset
from darts_gnn.tasks.metrics import Evaluator, rank_metrics, topk_items
from darts_gnn.nn import Recommender

L2_3 = 1 / math.log2(3)  # discount of rank 1
L2_4 = 1 / math.log2(4)  # discount of rank 2


def csr(lists):
    rowptr = torch.tensor([0] + list(np.cumsum([len(x) for x in lists])), dtype=torch.int64)
    items = torch.tensor([i for x in lists for i in sorted(x)], dtype=torch.int64)
    return rowptr, items


class FixedScores(Recommender):
    """Scores are a given [U, I] matrix: users carry the rows, items are one-hot."""

    def __init__(self, scores):
        super().__init__()
        s = torch.as_tensor(scores, dtype=torch.float32)
        self.n_users, self.n_items = s.shape
        self.u = torch.nn.Parameter(s)
        self.calls = 0

    def embeddings(self):
        self.calls += 1
        return self.u, torch.eye(self.n_items)

    def ego_embeddings(self):
        return self.embeddings()

    def reset_parameters(self):
        pass


def test_rank_metrics_by_hand():
    rowptr, items = csr([[1, 3], [0], [2, 4, 5, 6]])
    topk = torch.tensor([[3, 0, 1], [2, 3, 4], [5, 7, 2]])
    m = rank_metrics(topk, rowptr, items, torch.tensor([0, 1, 2]), ks=(1, 3))
    # user 0: hits at ranks 0 and 2, 2 relevant (< K=3): ideal DCG over 2 positions
    assert m["recall@3"].tolist() == pytest.approx([1.0, 0.0, 0.5])
    assert m["precision@3"].tolist() == pytest.approx([2 / 3, 0.0, 2 / 3])
    assert m["hitrate@3"].tolist() == [1.0, 0.0, 1.0]
    assert m["ndcg@3"].tolist() == pytest.approx([(1 + L2_4) / (1 + L2_3), 0.0, (1 + L2_4) / (1 + L2_3 + L2_4)])
    assert m["recall@1"].tolist() == pytest.approx([0.5, 0.0, 0.25])
    assert m["precision@1"].tolist() == [1.0, 0.0, 1.0]
    assert m["ndcg@1"].tolist() == [1.0, 0.0, 1.0]


def test_rank_metrics_row_order_and_empty_truth():
    rowptr, items = csr([[1, 3], [], [2]])
    # rows given in any user order; a user without relevant items scores 0 everywhere
    m = rank_metrics(torch.tensor([[2, 0], [1, 0], [3, 1]]), rowptr, items, torch.tensor([2, 1, 0]), ks=(2,))
    assert m["recall@2"].tolist() == [1.0, 0.0, 1.0]
    assert m["ndcg@2"].tolist() == pytest.approx([1.0, 0.0, 1.0])
    empty = rank_metrics(torch.tensor([[0, 1]]), *csr([[]]), torch.tensor([0]), ks=(2,))
    assert all(v.tolist() == [0.0] for v in empty.values())


def test_topk_ties_lowest_item_first():
    s = torch.tensor([[1.0, 3.0, 3.0, 0.0, 3.0, 2.0],
                      [5.0, 5.0, 5.0, 5.0, 5.0, 5.0],
                      [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]])
    assert topk_items(s, 2).tolist() == [[1, 2], [0, 1], [4, 5]]
    assert topk_items(s, 4).tolist() == [[1, 2, 4, 5], [0, 1, 2, 3], [4, 5, 3, 2]]


def test_topk_matches_stable_sort():
    g = torch.Generator().manual_seed(0)
    for k in (1, 5, 20, 50):
        s = torch.randint(0, 4, (64, 50), generator=g).float()  # very many ties
        s[0] = float("-inf")
        ref = s.sort(dim=1, descending=True, stable=True).indices[:, :k]
        assert torch.equal(topk_items(s, k), ref)


def tiny_dataset():
    # u0: train {0}, valid {1}, test {2, 5}; u1: train {1, 2}, no test; u2: train {3}, valid {4}, test {1}
    return Dataset("tiny", 3, 6, train=[[0, 0], [1, 1], [1, 2], [2, 3]], valid=[[0, 1], [2, 4]],
                   test=[[0, 2], [0, 5], [2, 1]])


SCORES = [[9, 8, 7, 1, 1, 6],
          [0, 9, 9, 1, 2, 3],
          [5, 5, 5, 9, 9, 2]]


def test_evaluator_test_split_by_hand():
    model = FixedScores(SCORES)
    ev = Evaluator(tiny_dataset(), ks=(1, 2), batch_users=2)
    m = ev.evaluate(model, "test")
    assert model.calls == 1  # embeddings computed once per evaluate
    # u0: train 0 and valid 1 masked -> ranking 2 (7), 5 (6): both test items
    # u2: train 3 and valid 4 masked -> 0, 1, 2 tie at 5 -> order 0, 1, 2; test item 1 at rank 1
    # u1 has no test items: left out of the average
    assert set(m) == {f"{n}@{k}" for n in ("recall", "ndcg", "precision", "hitrate") for k in (1, 2)}
    assert m["recall@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert m["precision@1"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["hitrate@1"] == pytest.approx(0.5)
    assert m["ndcg@1"] == pytest.approx(0.5)
    assert m["recall@2"] == pytest.approx(1.0)
    assert m["precision@2"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["hitrate@2"] == pytest.approx(1.0)
    assert m["ndcg@2"] == pytest.approx((1.0 + L2_3) / 2)


def test_evaluator_valid_split_masks_train_only():
    ev = Evaluator(tiny_dataset(), ks=(1,))
    m = ev.evaluate(FixedScores(SCORES), "valid")
    # u0: train 0 masked -> top item 1 (valid); u2: train 3 masked -> top item 4 (valid)
    assert m["recall@1"] == pytest.approx(1.0)
    assert m["ndcg@1"] == pytest.approx(1.0)


def test_evaluator_without_masking_would_differ():
    # the masked train item (score 9) must never be recommended
    ds = Dataset("m", 1, 3, train=[[0, 0]], valid=np.zeros((0, 2)), test=[[0, 1]])
    m = Evaluator(ds, ks=(1,)).evaluate(FixedScores([[9, 8, 1]]), "test")
    assert m["recall@1"] == 1.0


def test_evaluator_batching_invariant_and_mode_restored():
    g = torch.Generator().manual_seed(1)
    U, I = 40, 30
    pairs = torch.stack([torch.randint(0, U, (300,), generator=g), torch.randint(0, I, (300,), generator=g)], 1)
    pairs = np.unique(pairs.numpy(), axis=0)
    split = np.random.default_rng(0).integers(0, 3, len(pairs))
    ds = Dataset("r", U, I, train=pairs[split == 0], valid=pairs[split == 1], test=pairs[split == 2])
    model = FixedScores(torch.randint(0, 5, (U, I), generator=g))
    model.train()
    a = Evaluator(ds, ks=(5, 10), batch_users=1).evaluate(model, "test")
    b = Evaluator(ds, ks=(5, 10), batch_users=1000).evaluate(model, "test")
    assert a == pytest.approx(b, abs=1e-12)
    assert model.training


def test_evaluator_errors():
    ds = Dataset("e", 1, 3, train=[[0, 0]], valid=np.zeros((0, 2)), test=[[0, 1]])
    with pytest.raises(ValueError, match="no interactions"):
        Evaluator(ds).evaluate(FixedScores([[1, 2, 3]]), "valid")
    with pytest.raises(ValueError, match="'valid' or 'test'"):
        Evaluator(ds).evaluate(FixedScores([[1, 2, 3]]), "train")
    with pytest.raises(ValueError, match="ks"):
        Evaluator(ds, ks=())
