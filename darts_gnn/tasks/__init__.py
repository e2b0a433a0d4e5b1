"""Tasks: what a run learns and measures (see :mod:`darts_gnn.tasks.base` and ``docs/tasks.md``).

``ranking`` (BPR, full-ranking Recall/NDCG; the default) and ``rating`` (explicit ratings, MSE,
RMSE/MAE) are built in; choose one with the config section ``task: {name: ...}``.
"""
from .base import (Task, TaskError, attach_head, build_task, config_evaluator, register_task, signed, task_head,
                   task_of)
from .ranking import RankingTask
from .rating import RatingConfig, RatingEvaluator, RatingHead, RatingSampler, RatingTask, rating_metrics

__all__ = ["Task", "TaskError", "register_task", "build_task", "attach_head", "task_head", "task_of",
           "config_evaluator", "signed", "RankingTask", "RatingTask", "RatingConfig", "RatingHead", "RatingSampler", "RatingEvaluator",
           "rating_metrics"]

# social (friend recommendation) and profile (user attributes from embeddings): issue 12
from .friend_metrics import FriendEvaluator  # noqa: E402
from .heuristics import LinkHeuristic, adamic_adar, common_neighbours  # noqa: E402
from .probe import LinearProbe, accuracy, fit_probe, macro_f1, probe_attribute  # noqa: E402
from .profile import ProfileConfig, ProfileEvaluator, ProfileTask  # noqa: E402
from .social import SocialConfig, SocialTask  # noqa: E402

__all__ += ["SocialTask", "SocialConfig", "FriendEvaluator", "LinkHeuristic", "common_neighbours", "adamic_adar",
            "ProfileTask", "ProfileConfig", "ProfileEvaluator", "LinearProbe", "fit_probe", "probe_attribute",
            "accuracy", "macro_f1"]
