"""Data for darts-gnn: loaders, splits, the synthetic generator, the graph and the BPR sampler.

Typical use::

    from darts_gnn.config import DataConfig
    from darts_gnn.data import load_dataset, Graph, BPRSampler

    ds = load_dataset(DataConfig(source="lightgcn", path="../shared/data/gowalla"))
    graph = Graph.from_dataset(ds, "train")
    for users, pos, neg in BPRSampler(ds, batch_size=2048, seed=0):
        ...
"""
from .build import load_dataset, load_lightgcn
from .splits import drop_users_without_train
from .dataset import DataError, Dataset
from .graph import Graph
from .loaders import Interactions, drop_duplicates, load_csv, load_movielens, load_social, read_lightgcn
from .sampler import BPRSampler
from .splits import carve_valid, holdout_counts, random_split, temporal_split, user_ranks
from .synthetic import make_synthetic, synthetic_interactions

__all__ = [
    "Dataset", "DataError", "Graph", "load_dataset", "make_synthetic", "synthetic_interactions",
    "BPRSampler", "Interactions", "read_lightgcn", "load_lightgcn", "load_movielens", "load_csv",
    "load_social", "drop_duplicates", "drop_users_without_train", "random_split", "temporal_split",
    "carve_valid", "holdout_counts", "user_ranks",
]

# friendships and user attributes (issue 12: the social and profile tasks)
from .attributes import UserAttributes, load_user_attributes, split_users  # noqa: E402
from .friend_sampler import FriendSampler  # noqa: E402
from .friends import FriendSplit, friend_csr, split_friendships, undirected_pairs  # noqa: E402

__all__ += ["FriendSplit", "split_friendships", "undirected_pairs", "friend_csr", "FriendSampler",
            "UserAttributes", "load_user_attributes", "split_users"]
