r"""``profile``: user profiling, predicting user attributes from learned user embeddings.

The model is trained exactly as for ``ranking`` (BPR on the interactions; same sampler, losses and
early stopping): attributes never reach the model, the graph or the loss. Only the evaluator reads
them. It fits a linear probe (:mod:`darts_gnn.tasks.probe`: multinomial logistic regression on the
frozen final user embeddings) per attribute on a seeded set of *probe-training* users, tunes its
L2 weight on *probe-validation* users and reports accuracy and macro F1 on held-out *probe-test*
users (:func:`darts_gnn.data.attributes.split_users`; ``task.test_fraction`` then
``task.valid_fraction`` of the users with attributes).

Metrics of ``evaluate(model, split)``: the ranking metrics of the split (``recall@20``, ...) and, for
``test`` (and for ``valid`` when ``task.monitor: probe``), ``<attr>_acc`` / ``<attr>_f1`` per attribute
(validation users for ``valid``, test users for ``test``) and ``probe_f1``, their mean macro F1.

``monitor``: ``recall@20`` by default (``task.monitor: ranking``): the embeddings are selected by the
job they are trained for, so no attribute label influences which weights are kept; and the
validation probe (about 70 users) is a noisy selection signal. ``task.monitor: probe`` selects by
validation ``probe_f1`` instead (labels then choose among checkpoints; say so when reporting).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import ConfigError, TaskConfig
from ..data.attributes import UserAttributes, load_user_attributes, split_users
from .metrics import Evaluator, monitor_metric
from ..nn.base import eval_embeddings
from .base import TaskError, register_task
from .probe import WEIGHT_DECAYS, majority_baseline, probe_attribute
from .ranking import RankingTask

__all__ = ["ProfileConfig", "ProfileTask", "ProfileEvaluator", "ProbeData"]

ATTRIBUTES = ("gender", "age", "occupation")


@dataclass
class ProfileConfig(TaskConfig):
    """``task`` keys of ``profile`` (see the module docstring)."""
    name: str = "profile"
    attributes_path: str | None = None
    id_base: int | str = "auto"
    attributes: list[str] = field(default_factory=lambda: list(ATTRIBUTES))
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    seed: int = 2020
    monitor: str = "ranking"
    balanced: bool = True
    weight_decays: list[float] = field(default_factory=lambda: list(WEIGHT_DECAYS))

    def __post_init__(self) -> None:
        bad = [a for a in self.attributes if a not in ATTRIBUTES]
        for key, ok, expected in (
                ("attributes", bool(self.attributes) and not bad, f"a non-empty list of {', '.join(ATTRIBUTES)}"),
                ("id_base", self.id_base in (0, 1, "auto"), "0, 1 or auto"),
                ("test_fraction", 0.0 < self.test_fraction < 1.0, "a number in (0, 1)"),
                ("valid_fraction", 0.0 < self.valid_fraction < 1.0, "a number in (0, 1)"),
                ("monitor", self.monitor in ("ranking", "probe"), "ranking or probe"),
                ("weight_decays", bool(self.weight_decays) and all(w >= 0 for w in self.weight_decays),
                 "a non-empty list of numbers >= 0")):
            if not ok:
                raise ConfigError(f"task.{key}: expected {expected}, got {getattr(self, key)!r}")


@dataclass
class ProbeData:
    """Attributes and the probe's user split, attached to a prepared data set as ``.probe``."""
    attributes: UserAttributes
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


class ProfileEvaluator:
    """Ranking metrics plus linear-probe accuracy / macro F1 per attribute (see the module docstring)."""

    def __init__(self, dataset, probe: ProbeData, cfg: ProfileConfig, ks=(20,), batch_users: int = 2048):
        self.ranking = Evaluator(dataset, ks=ks, batch_users=batch_users)
        self.ks = self.ranking.ks
        self.probe, self.cfg = probe, cfg

    def probe_metrics(self, model, split: str) -> dict[str, float]:
        """``<attr>_acc``, ``<attr>_f1`` on the ``split`` users (``valid`` or ``test``) and ``probe_f1``."""
        emb = eval_embeddings(model)[0]
        p, out = self.probe, {}
        for name in self.cfg.attributes:
            y = p.attributes.labels[name]
            r = probe_attribute(emb, y, len(p.attributes.classes[name]), p.train, p.valid, p.test,
                                self.cfg.weight_decays, self.cfg.balanced)
            out[f"{name}_acc"], out[f"{name}_f1"] = r[f"{split}_acc"], r[f"{split}_f1"]
        out["probe_f1"] = float(np.mean([out[f"{n}_f1"] for n in self.cfg.attributes]))
        return out

    def majority(self, split: str = "test") -> dict[str, float]:
        """The majority-class baseline's metrics on the ``split`` users."""
        p, out = self.probe, {}
        users = p.test if split == "test" else p.valid
        for name in self.cfg.attributes:
            y = p.attributes.labels[name]
            m = majority_baseline(y[p.train], y[users])
            out[f"{name}_acc"], out[f"{name}_f1"] = m["acc"], m["f1"]
        out["probe_f1"] = float(np.mean([out[f"{n}_f1"] for n in self.cfg.attributes]))
        return out

    def evaluate(self, model, split: str = "test") -> dict[str, float]:
        out = self.ranking.evaluate(model, split)
        if split == "test" or self.cfg.monitor == "probe":
            out.update(self.probe_metrics(model, split))
        return out


@register_task("profile", options=ProfileConfig)
class ProfileTask(RankingTask):
    """Ranking training, attribute-probe evaluation (see the module docstring)."""

    monitor = "recall@20"
    higher_is_better = True

    def __init__(self, cfg: ProfileConfig | None = None) -> None:
        super().__init__(cfg)
        if self.cfg.monitor == "probe":
            self.monitor = "probe_f1"

    def check(self, dataset) -> None:
        path = self.cfg.attributes_path
        if not path:
            raise TaskError("task.attributes_path: task profile needs a user attribute file "
                            "(e.g. ../shared/data/ml-100k/u.user); none given")
        if not Path(path).is_file():
            raise TaskError(f"task.attributes_path: {path}: file not found (task profile expects "
                            f"MovieLens u.user, lines 'id|age|gender|occupation|zip')")

    def prepare(self, dataset):
        """Attach ``dataset.probe`` (:class:`ProbeData`); the interactions are untouched."""
        if isinstance(getattr(dataset, "probe", None), ProbeData):
            return dataset
        self.check(dataset)
        c = self.cfg
        attrs = load_user_attributes(c.attributes_path, dataset, c.id_base)
        dataset.probe = ProbeData(attrs, *split_users(attrs.known(), c.test_fraction, c.valid_fraction, c.seed))
        return dataset

    def evaluator(self, dataset, cfg) -> ProfileEvaluator:
        probe = getattr(dataset, "probe", None)
        if probe is None:
            raise TaskError("task profile: the data set was not prepared (call task.prepare(dataset) first)")
        ev = ProfileEvaluator(dataset, probe, self.cfg, ks=tuple(cfg.ks), batch_users=cfg.eval_batch_users)
        ev.task, ev.monitor, ev.higher_is_better = self, self.monitor_in(ev.ks), self.higher_is_better
        return ev

    def monitor_in(self, ks) -> str:
        return "probe_f1" if self.cfg.monitor == "probe" else monitor_metric(ks)
