"""darts-gnn: differentiable architecture search for GNN recommenders."""
import os as _os

# OpenMP threads that spin at barriers are slow on shared or oversubscribed machines (an epoch has
# thousands of small parallel regions); passive waiting costs little when the machine is idle.
# Only effective before torch is first imported; set OMP_WAIT_POLICY yourself to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
