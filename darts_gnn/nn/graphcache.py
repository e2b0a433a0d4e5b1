"""A graph kept on the device where a model runs, outside the model's ``state_dict``."""
from __future__ import annotations

import torch

__all__ = ["DeviceGraph"]


class DeviceGraph:
    """Holds a :class:`~darts_gnn.data.Graph` and hands out a copy on the requested device.

    Models keep it as a plain attribute (not a buffer), so checkpoints hold only weights; the copy
    (with its cached ``norm_adj()``) is made once per device.
    """

    def __init__(self, graph):
        self.graph = graph
        self._on: dict[str, object] = {}

    def get(self, device: torch.device):
        key = str(device)
        if key not in self._on:
            g = self.graph if self.graph.rowptr.device == torch.device(device) else self.graph.to(device)
            self._on[key] = g
        return self._on[key]
