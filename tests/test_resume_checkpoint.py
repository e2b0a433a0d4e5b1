"""Search checkpoints: atomic, weights_only-loadable, RNG streams restored, NaN guard keeps the last one."""
import random

import numpy as np
import pytest
import torch

from darts_gnn.errors import UserError
from darts_gnn.search.checkpoint import (SearchCheckpointer, SearchDivergedError, capture_rng_state,
                                         check_finite, check_state, load_search_state,
                                         restore_rng_state, save_search_state)
from darts_gnn.engine.train import TrainingError


class ToySearcher:
    """A stand-in for the searcher: weights, alpha, an optimiser, an epoch counter."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(4, 3))
        self.alpha = torch.nn.Parameter(torch.zeros(2, 3))
        self.opt = torch.optim.Adam([self.w, self.alpha], lr=0.1)
        self.history = []

    def train_epoch(self):
        x = torch.randn(8, 4)                       # global torch RNG
        noise = float(np.random.rand())             # numpy RNG
        jitter = random.random()                    # python RNG
        loss = ((x @ self.w) * torch.softmax(self.alpha, -1).sum(0)).pow(2).mean() * (1 + noise + jitter)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.history.append(loss.item())
        return loss

    def state_dict(self):
        return {"w": self.w.detach().clone(), "alpha": self.alpha.detach().clone(),
                "opt": self.opt.state_dict(), "history": list(self.history)}

    def load_state_dict(self, s):
        with torch.no_grad():
            self.w.copy_(s["w"])
            self.alpha.copy_(s["alpha"])
        self.opt.load_state_dict(s["opt"])
        self.history = list(s["history"])


def _seed(s):
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)


def test_rng_state_round_trip_all_streams():
    _seed(3)
    st = capture_rng_state()
    check_state(st)  # weights_only-safe
    a = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    _seed(99)
    restore_rng_state(st)
    b = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    assert a == b


def test_save_load_weights_only_and_interrupted_resume_matches(tmp_path):
    epochs = 6
    _seed(0)
    ref = ToySearcher()
    for _ in range(epochs):
        ref.train_epoch()

    _seed(0)
    s = ToySearcher()
    ck = SearchCheckpointer(tmp_path)
    for e in range(3):
        s.train_epoch()
        ck.save(s, e, meta={"note": "x"})
    assert ck.exists() and ck.last_saved_epoch == 2
    # the process "dies" here; a fresh one with other RNG states resumes
    _seed(1234)
    t = ToySearcher(seed=77)
    ck2 = SearchCheckpointer(tmp_path)
    start = ck2.resume(t)
    assert start == 3
    for e in range(start, epochs):
        t.train_epoch()
        ck2.save(t, e)
    assert t.history == ref.history
    torch.testing.assert_close(t.alpha, ref.alpha, rtol=0, atol=0)
    state = load_search_state(tmp_path)  # a directory works too
    assert state["epoch"] == epochs - 1 and state["meta"] == {}


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    s = ToySearcher()
    ck = SearchCheckpointer(tmp_path)
    s.train_epoch()
    ck.save(s, 0)
    good = ck.path.read_bytes()
    with pytest.raises(SearchDivergedError, match=r"loss is nan at epoch 1, step 7.*last good checkpoint"):
        ck.check(float("nan"), "loss", epoch=1, step=7)
    with torch.no_grad():
        s.alpha[0, 0] = float("inf")
    with pytest.raises(SearchDivergedError, match=r"searcher.alpha holds NaN or inf.*epoch 1.*--resume"):
        ck.save(s, 1)
    assert ck.path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search_state.pt"]  # no temp file left
    assert load_search_state(ck.path)["epoch"] == 0
    # it is both a TrainingError and a UserError (the CLI prints one line)
    with pytest.raises(TrainingError):
        check_finite(torch.tensor(float("-inf")))
    with pytest.raises(UserError, match="no checkpoint was written yet"):
        SearchCheckpointer(tmp_path / "fresh").check(float("inf"), epoch=0)
    assert check_finite(torch.tensor(1.5)) == 1.5


def test_check_state_rejects_non_weights_only_types(tmp_path):
    with pytest.raises(TypeError, match=r"state.rng.numpy: a numpy.ndarray"):
        check_state({"rng": {"numpy": np.zeros(3)}})
    with pytest.raises(TypeError, match="keys must be str or int"):
        check_state({(1, 2): 0})
    check_state({"a": [1, 2.0, "x", None, True, (torch.zeros(2),)], "b": {0: float("-inf")}})
    with pytest.raises(TypeError):
        save_search_state(tmp_path / "s.pt", {"format": 1, "x": object()})
    assert not (tmp_path / "s.pt").exists()


def test_load_errors(tmp_path):
    with pytest.raises(UserError, match="no search checkpoint"):
        load_search_state(tmp_path)
    (tmp_path / "search_state.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="not a readable search checkpoint"):
        load_search_state(tmp_path)
    torch.save({"format": 99}, tmp_path / "search_state.pt")
    with pytest.raises(UserError, match="format 1"):
        load_search_state(tmp_path)


def test_every_n_epochs(tmp_path):
    s = ToySearcher()
    ck = SearchCheckpointer(tmp_path, every=2)
    assert ck.save(s, 0) is None and not ck.exists()
    assert ck.save(s, 1) is not None
    assert ck.save(s, 2, final=True) is not None and ck.last_saved_epoch == 2
