"""Trainer: BPR loss, a step lowers the loss, determinism, early stopping, divergence errors."""
import math

import numpy as np
import pytest
import torch

from darts_gnn.config import ModelConfig, TrainConfig
from darts_gnn.data.dataset import Dataset
from darts_gnn.data.graph import Graph
from darts_gnn.tasks.metrics import Evaluator
from darts_gnn.nn.models import build_model
from darts_gnn.engine.seed import seed_everything
from darts_gnn.engine.train import Trainer, TrainingError, bpr_loss, l2_penalty


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors gain nothing from more threads, and one keeps the tests fast on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def community_dataset(n_users=80, n_items=60, n_comm=4, per_user=12, seed=0):
    """Users mostly pick items of their own community; per-user 70/10/20 split."""
    rng = np.random.default_rng(seed)
    comm_items = np.array_split(np.arange(n_items), n_comm)
    train, valid, test = [], [], []
    for u in range(n_users):
        own = comm_items[u % n_comm]
        items = rng.choice(own, size=min(per_user - 2, len(own)), replace=False)
        items = np.unique(np.concatenate([items, rng.choice(n_items, size=2, replace=False)]))
        rng.shuffle(items)
        n_test, n_valid = max(1, len(items) // 5), max(1, len(items) // 10)
        test += [(u, i) for i in items[:n_test]]
        valid += [(u, i) for i in items[n_test:n_test + n_valid]]
        train += [(u, i) for i in items[n_test + n_valid:]]
    return Dataset("community", n_users, n_items, train=train, valid=valid, test=test)


@pytest.fixture(scope="module")
def data():
    ds = community_dataset()
    return ds, Graph.from_dataset(ds, "train")


def cfg(**kw):
    # one thread: tiny tensors gain nothing from two, and it keeps the tests fast on a busy machine
    base = dict(epochs=4, batch_size=64, lr=0.01, l2=1e-4, patience=3, ks=[5, 20], progress=False, seed=7,
                num_threads=1)
    base.update(kw)
    return TrainConfig(**base)


def make(data, name="lightgcn", seed=3, **kw):
    ds, graph = data
    seed_everything(seed)
    model = build_model(ModelConfig(name=name, dim=16, n_layers=2), ds, graph)
    return Trainer(model, ds, cfg(**kw), graph=graph)


def test_bpr_loss_and_l2_values():
    assert float(bpr_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 2.0]))) == pytest.approx(
        (math.log1p(math.exp(-1.0)) + math.log(2.0)) / 2)
    a, b = torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert float(l2_penalty(a, b)) == pytest.approx(0.5 * (6 + 24) / 2)


@pytest.mark.parametrize("name", ["mf", "lightgcn", "ngcf"])
def test_bpr_step_lowers_loss(data, name):
    trainer = make(data, name)
    users, pos, neg = next(iter(trainer.sampler))
    before = float(trainer.loss(users, pos, neg).detach())
    for _ in range(3):
        trainer.optimizer.zero_grad()
        trainer.loss(users, pos, neg).backward()
        trainer.optimizer.step()
    assert float(trainer.loss(users, pos, neg).detach()) < before


def test_fit_learns_and_is_deterministic(data):
    trainer = make(data)
    a = trainer.fit()
    b = make(data).fit()
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert a.best_valid == b.best_valid and a.best_epoch == b.best_epoch
    assert a.monitor == "recall@20" and a.epochs_run == 4
    assert a.history[-1]["loss"] < a.history[0]["loss"]
    assert set(a.best_valid) >= {"recall@5", "ndcg@20", "precision@20", "hitrate@5"}
    assert a.seconds_per_epoch > 0
    # the restored weights are the best ones: re-evaluating gives the best validation numbers
    again = Evaluator(data[0], ks=[5, 20]).evaluate(trainer.model, "valid")
    assert again == pytest.approx(a.best_valid, abs=1e-12)


class ScriptedEvaluator:
    """Returns a fixed sequence of validation recalls, one per evaluation."""

    def __init__(self, scores):
        self.ks = [20]
        self.scores = list(scores)
        self.calls = 0

    def evaluate(self, model, split="test"):
        assert split == "valid"
        value = self.scores[self.calls]
        self.calls += 1
        return {"recall@20": value, "ndcg@20": value / 2}


def test_early_stopping_restores_best_weights(data):
    ds, graph = data
    seed_everything(0)
    model = build_model(ModelConfig(name="mf", dim=8), ds, graph)
    snapshots = {}
    trainer = Trainer(model, ds, cfg(epochs=20, patience=2), evaluator=ScriptedEvaluator([0.1, 0.3, 0.2, 0.25, 0.9]),
                      on_epoch_end=lambda e, r: snapshots.__setitem__(e, {k: v.clone() for k, v in model.state_dict().items()}))
    res = trainer.fit()
    assert res.best_epoch == 2 and res.best_valid["recall@20"] == 0.3
    assert res.epochs_run == 4 and res.stopped_early and len(res.history) == 4
    assert not torch.equal(snapshots[4]["user_emb.weight"], snapshots[2]["user_emb.weight"])
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[2][k]), k


def test_eval_every_writer_and_callback_stop(data):
    ds, graph = data

    class Writer:
        def __init__(self):
            self.tags = []

        def add_scalar(self, tag, value, step):
            self.tags.append((tag, step))

    writer = Writer()
    trainer = make(data, "mf", epochs=5, eval_every=2)
    trainer.writer = writer
    trainer.on_epoch_end = lambda epoch, record: epoch == 4
    res = trainer.fit()
    assert res.epochs_run == 4
    assert [r["epoch"] for r in res.history if "valid/recall@20" in r] == [2, 4]
    assert ("train/loss", 1) in writer.tags and ("valid/recall@20", 2) in writer.tags
    assert ("valid/ndcg@5", 4) in writer.tags and ("train/epoch_seconds", 3) in writer.tags


def test_no_validation_trains_all_epochs(data):
    ds = data[0]
    no_valid = Dataset("nv", ds.n_users, ds.n_items, train=ds.train, valid=np.zeros((0, 2)), test=ds.test)
    seed_everything(0)
    model = build_model(ModelConfig(name="mf", dim=8), no_valid, None)
    res = Trainer(model, no_valid, cfg(epochs=2)).fit()
    assert res.epochs_run == 2 and res.best_epoch == 2 and res.best_valid == {}


def test_nan_loss_raises_with_epoch(data):
    trainer = make(data, "mf")
    with torch.no_grad():
        trainer.model.user_emb.weight[0] = float("nan")
        trainer.model.user_emb.weight[1:] = float("nan")
    with pytest.raises(TrainingError, match="epoch 1, batch 1"):
        trainer.fit()
    assert issubclass(TrainingError, FloatingPointError)


def test_num_threads_set_and_restored(data):
    seen = []
    trainer = make(data, "mf", epochs=1, num_threads=2)
    trainer.on_epoch_end = lambda epoch, record: seen.append(torch.get_num_threads())
    trainer.fit()
    assert seen == [2] and torch.get_num_threads() == 1


def test_gradients_bitwise_repeatable_with_threads():
    # Many duplicate rows in a batch: the backward of t[idx] on CPU sums them in a thread-dependent
    # order at this size; the trainer gathers with index_select, whose backward is ordered.
    rng = np.random.default_rng(0)
    pairs = np.unique(np.stack([rng.integers(0, 1000, 20000), rng.integers(0, 2000, 20000)], 1), axis=0)
    ds = Dataset("dup", 1000, 2000, train=pairs, valid=np.zeros((0, 2)), test=np.zeros((0, 2)))
    seed_everything(0)
    trainer = Trainer(build_model(ModelConfig(name="mf", dim=64), ds, None), ds, cfg())
    g = torch.Generator().manual_seed(0)
    users = torch.randint(0, 1000, (2048,), generator=g)
    pos, neg = torch.randint(0, 2000, (2, 2048), generator=g)
    torch.set_num_threads(2)

    def grads():
        trainer.model.zero_grad()
        trainer.loss(users, pos, neg).backward()
        return [p.grad.clone() for p in trainer.model.parameters()]

    first = grads()
    for _ in range(5):
        assert all(torch.equal(a, b) for a, b in zip(grads(), first))
