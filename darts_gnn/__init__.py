r"""darts-gnn: differentiable architecture search for graph-neural-network recommenders.

The public API, one name per stage of the pipeline (each object works on its own in research code):

Data
    :class:`Dataset` -- ``train / valid / test`` int64 ``[n, 2]`` (user, item) pairs, disjoint.
    :class:`Graph` -- CSR over ``N = U + I`` nodes (item ``i`` is node ``U + i``) with cached
    :math:`\hat A = D^{-1/2} A D^{-1/2}` (``norm_adj()``, sparse ``[N, N]``).
    :func:`load_dataset`, :func:`make_synthetic`, :class:`BPRSampler` (``(users, pos, neg)`` ``[B]``).
Models
    :class:`Recommender` -- ``embeddings() -> (users [U, d], items [I, d])``; score
    :math:`s_{ui} = \langle e_u, e_i \rangle`. :class:`MF`; :class:`LightGCN`
    (:math:`E^{(l+1)} = \hat A E^{(l)}`, output :math:`\frac{1}{L+1}\sum_l E^{(l)}`); :class:`NGCF`;
    :func:`build_model`.
Training and evaluation
    :class:`Trainer` -- BPR :math:`-\log\sigma(s_{ui} - s_{uj})` + L2 on the batch's ego embeddings,
    early stopping on validation Recall@20. :class:`Evaluator` -- full ranking, seen items masked,
    Recall / NDCG / Precision / HitRate @K.
The hot op
    :func:`mixed_aggregate` -- ``out[v] = sum_k w[k] * agg_k({x[u] : u in N(v)})``, ``x [N, d] -> [N, d]``,
    fused C++ kernel with a PyTorch reference (:func:`backend` tells which runs).
Search
    :class:`SearchSpace` (+ :func:`register` for your own candidates), :class:`SuperNet` (weights and
    architecture parameters α apart), :class:`Searcher` (bilevel: w on train BPR, α on valid BPR),
    :class:`Genotype` (the discrete architecture, JSON), :func:`run_search` (search, derive, retrain).
Content features
    :mod:`darts_gnn.features` -- ``features.encode_texts(texts) -> [n, d]`` (a pretrained sentence
    encoder, cached), feature files keyed by original ids, :func:`~darts_gnn.features.build_features`;
    models and the supernet take ``item_features=`` ``[I, d_f]`` / ``user_features=`` ``[U, d_u]``, fused
    as searched (:mod:`darts_gnn.space.fusion`). Cold-start items: :mod:`darts_gnn.engine.coldstart`.
Configuration
    :class:`Config` and its sections, :func:`load_config` (YAML + ``key=value`` overrides).
Run directories
    :func:`open_run` (a locked, status-tracked :class:`RunDir`), :class:`UserError` (bad input: the
    CLI's exit code 2); checkpoints are sealed and verified by :mod:`darts_gnn.store.manifest`.
"""
import os as _os

# OpenMP threads that spin at barriers are slow on shared or oversubscribed machines (an epoch has
# thousands of small parallel regions); passive waiting costs little when the machine is idle.
# Only effective before torch is first imported; set OMP_WAIT_POLICY yourself to override.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .version import __version__  # noqa: E402

from .config import (Config, ConfigError, DataConfig, ModelConfig, SearchConfig,  # noqa: E402
                     SyntheticConfig, TrainConfig, load_config)
from .data import BPRSampler, DataError, Dataset, Graph, load_dataset, make_synthetic  # noqa: E402
from .space.genotype import Genotype  # noqa: E402
from .tasks.metrics import Evaluator, SampledEvaluator  # noqa: E402
from .nn.models import build_model  # noqa: E402
from .nn import MF, NGCF, LightGCN, Recommender  # noqa: E402
from .ops import backend, mixed_aggregate  # noqa: E402
from .pipeline import run_search  # noqa: E402
from .search import Searcher, SuperNet  # noqa: E402
from .space.registry import SearchSpace, register  # noqa: E402
from .engine.train import Trainer, TrainResult  # noqa: E402
from .errors import UserError  # noqa: E402
from .engine.rundir import RunDir, open_run  # noqa: E402
from . import features  # noqa: E402

__all__ = [
    "__version__",
    # configuration
    "Config", "DataConfig", "SyntheticConfig", "ModelConfig", "TrainConfig", "SearchConfig",
    "ConfigError", "load_config",
    # data
    "Dataset", "DataError", "Graph", "load_dataset", "make_synthetic", "BPRSampler",
    # models, training, evaluation
    "Recommender", "MF", "LightGCN", "NGCF", "build_model", "Trainer", "TrainResult", "Evaluator",
    "SampledEvaluator",
    # the hot op
    "mixed_aggregate", "backend",
    # search
    "SearchSpace", "register", "SuperNet", "Searcher", "Genotype", "run_search",
    # run directories
    "RunDir", "open_run", "UserError",
    # content features (issue 11)
    "features",
]
