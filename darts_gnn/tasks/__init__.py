"""Tasks: what a run learns and measures (see :mod:`darts_gnn.tasks.base` and ``docs/tasks.md``).

``ranking`` (BPR, full-ranking Recall/NDCG; the default) and ``rating`` (explicit ratings, MSE,
RMSE/MAE) are built in; choose one with the config section ``task: {name: ...}``.
"""
from .base import Task, TaskError, attach_head, build_task, register_task, task_head
from .ranking import RankingTask

__all__ = ["Task", "TaskError", "register_task", "build_task", "attach_head", "task_head", "RankingTask"]
from . import profile, social  # noqa: E402,F401  (register the social and profile tasks)
