"""The task layer: registry, config section, the ranking task reproducing the old behaviour exactly."""
from __future__ import annotations

import math

import pytest
import torch

from darts_gnn.config import ConfigError, TaskConfig, config_from_dict, config_to_dict, load_config
from darts_gnn.models import build_model
from darts_gnn.config import ModelConfig, TrainConfig
from darts_gnn.registries import TASKS
from darts_gnn.seed import seed_everything
from darts_gnn.tasks import (RankingTask, RatingConfig, RatingTask, Task, attach_head, build_task, config_evaluator,
                             register_task, signed, task_of)
from darts_gnn.train import Trainer
from darts_gnn.trial import fit_and_evaluate
from darts_gnn.metrics import Evaluator
from helpers import tiny


def test_builtin_tasks_are_registered():
    assert {"ranking", "rating"} <= set(TASKS.names())
    assert isinstance(build_task(), RankingTask) and isinstance(build_task("rating"), RatingTask)
    assert TASKS.options("rating") is RatingConfig


def test_config_section_defaults_to_ranking_and_loads_the_tasks_options():
    assert load_config(None).task == TaskConfig(name="ranking")
    cfg = load_config(None, ["task.name=rating", "task.decoder=bilinear", "task.scale=[1, 5]"])
    assert isinstance(cfg.task, RatingConfig) and cfg.task.decoder == "bilinear" and cfg.task.scale == [1.0, 5.0]
    again = config_from_dict(config_to_dict(cfg))          # what a run directory's config.yaml reloads
    assert again.task == cfg.task


@pytest.mark.parametrize("overrides, needle", [
    (["task.name=nope"], "task.name: got 'nope'; allowed values: ranking, rating"),
    (["task.decoder=dot"], "unknown key 'task.decoder'; allowed keys in task: name"),
    (["task.name=rating", "task.decoder=mlp"], "task.decoder: got 'mlp'; allowed values: dot, bilinear"),
    (["task.name=rating", "task.scale=[5, 1]"], "task.scale"),
    (["task.name=rating", "task.scale=oops"], "task.scale"),
])
def test_bad_task_sections_are_one_clear_error(overrides, needle):
    with pytest.raises(ConfigError) as e:
        load_config(None, overrides)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_better_follows_the_direction_of_the_monitor():
    rank, rate = build_task("ranking"), build_task("rating")
    assert (rank.monitor, rank.higher_is_better, rate.monitor, rate.higher_is_better) == \
        ("recall@20", True, "rmse", False)
    assert rank.better(0.2, 0.1) and not rank.better(0.1, 0.2)
    assert rate.better(0.9, 1.0) and not rate.better(1.0, 0.9)
    for t in (rank, rate):
        assert not t.better(math.nan, 0.5) and t.better(0.5, math.nan) and t.better(0.5, t.worst())
    assert rank.monitor_in([10, 50]) == "recall@10" and rate.monitor_in([]) == "rmse"


def test_a_registered_task_is_usable_from_the_config():
    @register_task("toy_task")
    class Toy(Task):
        monitor, higher_is_better = "acc", True
    try:
        cfg = load_config(None, ["task.name=toy_task"])
        assert type(build_task(cfg.task)) is Toy and Toy.name == "toy_task"
        with pytest.raises(ConfigError, match="unknown key 'task.k'"):
            load_config(None, ["task.name=toy_task", "task.k=3"])
    finally:
        TASKS.unregister("toy_task")


def _fit(task, seed=3):
    ds, graph = tiny(seed=1)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.01, l2=1e-3, ks=[5], progress=False, seed=seed)
    seed_everything(0)
    model = build_model(ModelConfig(name="lightgcn", dim=8, n_layers=2), ds, graph)
    res = Trainer(model, ds, cfg, task=task).fit()
    return res, model


def test_the_ranking_task_trains_exactly_as_the_trainer_without_a_task():
    a, ma = _fit(None)
    b, mb = _fit(RankingTask())
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    assert a.best_valid == b.best_valid and a.monitor == b.monitor == "recall@5"
    for (ka, va), (kb, vb) in zip(ma.state_dict().items(), mb.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_ranking_needs_no_head_and_keeps_the_plain_evaluator():
    ds, graph = tiny(seed=2)
    cfg = load_config(None)
    ev = config_evaluator(cfg, ds)
    assert type(ev) is Evaluator and task_of(ev) is None and signed(ev, 0.3) == 0.3
    model = build_model(ModelConfig(name="mf", dim=4), ds, graph)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert attach_head(RankingTask(), model, ds) is None and not hasattr(model, "task_head")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fit_and_evaluate_with_the_ranking_task_gives_the_same_numbers():
    ds, graph = tiny(seed=4)
    cfg = TrainConfig(epochs=2, batch_size=64, ks=[5], progress=False)
    build = lambda: build_model(ModelConfig(name="mf", dim=8), ds, graph)  # noqa: E731
    a = fit_and_evaluate(build, ds, cfg, graph=graph, splits=("valid", "test"))
    b = fit_and_evaluate(build, ds, cfg, graph=graph, splits=("valid", "test"), task=RankingTask())
    assert a.metrics == b.metrics


def test_a_task_may_implement_loss_or_loss_from():
    class Plain(Task):
        def loss(self, model, head, batch, l2):
            return torch.tensor(1.5)

        def valid_loss(self, model, head, batch):
            return torch.tensor(2.5)

    emb = (torch.zeros(2, 3), torch.zeros(4, 3))
    assert Plain().loss_from(emb, None, None, (), 0.0).item() == 1.5
    assert Plain().valid_loss_from(emb, None, None, ()).item() == 2.5
    with pytest.raises(NotImplementedError, match="implement loss_from"):
        Task().loss_from(emb, None, None, (), 0.0)
