"""``load_dataset(DataConfig) -> Dataset``: read, split, carve validation, attach social edges."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..config import DataConfig
from .dataset import Dataset, DataError
from .loaders import Interactions, drop_duplicates, load_csv, load_movielens, load_social, read_lightgcn
from .ratings import RatingTable, load_given_ratings, synthetic_rating_table
from .splits import carve_valid, drop_users_without_train, random_split, temporal_split, validation_times
from .synthetic import make_synthetic

__all__ = ["load_dataset", "load_lightgcn"]

log = logging.getLogger("darts_gnn.data")


def _lightgcn_files(path: str | Path) -> tuple[Path, Path]:
    """``path`` is a folder holding ``train.txt`` (and maybe ``test.txt``), or the train file itself."""
    p = Path(path)
    if p.is_dir():
        return p / "train.txt", p / "test.txt"
    if p.is_file():
        return p, p.with_name("test.txt")
    raise DataError(f"{p}: not found (data.source 'lightgcn' expects a folder with train.txt and, "
                    f"for data.split 'given', test.txt)")


def _union(a: Interactions, b: Interactions) -> Interactions:
    """Concatenate two files' interactions (for re-splitting LightGCN train + test)."""
    return Interactions(f"{a.path} + {b.path}", np.concatenate([a.users, b.users]),
                        np.concatenate([a.items, b.items]), np.concatenate([a.lines, b.lines]),
                        max(a.n_users, b.n_users), max(a.n_items, b.n_items))


#: ids are "sparse" when the id space is more than twice the ids in use, plus this slack
SPARSE_SLACK = 1024


def _dense(raw: np.ndarray, n: int, what: str, source: str) -> tuple[np.ndarray, list[str] | None, int]:
    """``raw`` ids as they are when the id space ``n`` is dense, else remapped to ``0..k-1`` (sorted
    order; the file ids kept as strings, logged), so that no table is sized by a huge largest id."""
    uniq = np.unique(raw)
    if n <= 2 * len(uniq) + SPARSE_SLACK:
        return raw, None, n
    log.warning("%s: %s ids are sparse (%d distinct, largest %d): remapped to 0..%d; the file ids are kept "
                "for recommendations", source, what, len(uniq), n - 1, len(uniq) - 1)
    return np.searchsorted(uniq, raw).astype(np.int64), [str(x) for x in uniq.tolist()], len(uniq)


def _densify(train: Interactions, test: Interactions | None, n_users: int, n_items: int, source: str):
    """Remap sparse LightGCN ids (shared by the train and test files); see :func:`_dense`."""
    parts = [train] if test is None else [train, test]
    users = np.concatenate([x.users for x in parts])
    items = np.concatenate([x.items for x in parts])
    users, user_ids, n_users = _dense(users, n_users, "user", source)
    items, item_ids, n_items = _dense(items, n_items, "item", source)
    cut = len(train)
    out = [Interactions(x.path, u, i, x.lines, n_users, n_items)
           for x, u, i in zip(parts, np.split(users, [cut]), np.split(items, [cut]))]
    return out[0], (out[1] if test is not None else None), n_users, n_items, user_ids, item_ids


def load_lightgcn(path: str | Path, duplicates: str = "drop", need_test: bool = True
                  ) -> tuple[Interactions, Interactions | None]:
    """Read a LightGCN folder: ``(train, test)`` interactions, duplicates handled by ``duplicates``.

    A test pair that is also a training pair counts as a duplicate (dropped from test, or an error).
    ``test`` is ``None`` when ``test.txt`` is absent and ``need_test`` is false.
    """
    train_path, test_path = _lightgcn_files(path)
    if not train_path.exists():
        raise DataError(f"{train_path}: file not found (data.source 'lightgcn' expects a folder "
                        f"with train.txt and, for data.split 'given', test.txt)")
    train = drop_duplicates(read_lightgcn(train_path), duplicates, what="train")
    test = None
    if test_path.exists():
        test = drop_duplicates(read_lightgcn(test_path), duplicates, against=train, what="test")
    elif need_test:
        raise DataError(f"{test_path}: file not found (data.split 'given' needs the test file; use "
                        f"data.split: random to hold out a test set from train.txt instead)")
    return train, test


def load_dataset(cfg: DataConfig) -> Dataset:
    """Build the :class:`Dataset` that ``cfg`` describes.

    * ``source``: ``synthetic`` (:func:`make_synthetic`), ``lightgcn`` (folder with ``train.txt`` /
      ``test.txt``), ``movielens`` (``u.data``), ``csv`` (header-named columns).
    * ``split``: ``given`` (the test file; ``lightgcn`` only), ``random`` (per-user seeded holdout of
      ``test_fraction``; for ``lightgcn`` the union of train and test files is re-split) or
      ``temporal`` (per-user latest ``test_fraction`` by timestamp; needs timestamps). ``synthetic``
      always uses its own random holdout.
    * validation: ``valid_fraction`` of each user's training pairs
      (:func:`~darts_gnn.data.splits.carve_valid`): random, seeded by ``seed``, or each user's latest
      ones (``valid_split: temporal``).
    * duplicates: ``cfg.duplicates`` (see :func:`~darts_gnn.data.loaders.drop_duplicates`).
    * users with no training pairs: their test/valid pairs are dropped with a warning
      (:func:`drop_users_without_train`).
    * ``social_path``: user-user edges (:func:`~darts_gnn.data.loaders.load_social`).

    Logs one summary line on the ``darts_gnn.data`` logger. Bad input raises :class:`DataError`.
    """
    t0 = time.perf_counter()
    if cfg.source == "synthetic":
        validation_times(cfg.valid_split, None, "data.source 'synthetic'")   # refuses 'temporal'
        ds = make_synthetic(cfg.synthetic, cfg.seed, test_fraction=cfg.test_fraction,
                            valid_fraction=cfg.valid_fraction)
        if cfg.synthetic.ratings:
            ds.ratings = synthetic_rating_table(cfg.synthetic, cfg.seed)
    else:
        if not cfg.path:
            raise DataError(f"data.path is required for data.source {cfg.source!r}")
        ds = _load_files(cfg)
    if cfg.social_path:
        ds.social = load_social(cfg.social_path, ds, cfg.social_base)
    s = ds.stats()
    split = "random" if cfg.source == "synthetic" else cfg.split
    log.info("data %s (%s, split %s, validation %s): %d users, %d items, train %d / valid %d / test %d, "
             "social %d, density %.5f, %.2f s", ds.name, cfg.source, split,
             cfg.valid_split, s["users"], s["items"], s["train"],
             s["valid"], s["test"], s["social_edges"], s["density"], time.perf_counter() - t0)
    return ds


def _load_files(cfg: DataConfig) -> Dataset:
    src, split = cfg.source, cfg.split
    path = Path(cfg.path)
    test_lines, train_times = None, None
    if src == "lightgcn":
        if split == "temporal":
            raise DataError(f"{path}: data.split 'temporal' needs timestamps, which the LightGCN "
                            f"format does not have; use 'given' or 'random'")
        train_i, test_i = load_lightgcn(path, cfg.duplicates, need_test=(split == "given"))
        name = (path if path.is_dir() else path.parent).name
        n_users = max(train_i.n_users, test_i.n_users if test_i is not None else 0)
        n_items = max(train_i.n_items, test_i.n_items if test_i is not None else 0)
        train_i, test_i, n_users, n_items, user_ids, item_ids = _densify(train_i, test_i, n_users, n_items,
                                                                         str(path))
        if split == "given":
            train, test = train_i.pairs, test_i.pairs
            test_lines, test_src = test_i.lines, test_i.path
        else:
            pool = train_i.pairs if test_i is None else np.concatenate([train_i.pairs, test_i.pairs])
            train, test = random_split(pool, cfg.test_fraction, cfg.seed)
    else:
        if src == "movielens":
            inter = load_movielens(path, cfg.min_rating)
            name = path.parent.name or path.stem
        elif src == "csv":
            inter = load_csv(path, cfg.user_col, cfg.item_col, cfg.rating_col, cfg.time_col,
                             cfg.delimiter, cfg.min_rating)
            name = path.stem
        else:
            raise DataError(f"data.source {cfg.source!r}: expected synthetic, lightgcn, movielens or csv")
        inter = drop_duplicates(inter, cfg.duplicates)
        n_users, n_items = inter.n_users, inter.n_items
        user_ids, item_ids = inter.user_ids, inter.item_ids
        if split == "given" and cfg.test_path:
            return load_given_ratings(cfg)
        if split == "given":
            raise DataError(f"{path}: data.split 'given' needs a separate test file, which data.source "
                            f"{src!r} does not have; set data.test_path, or use data.split: random or temporal")
        if split == "temporal":
            if inter.times is None:
                raise DataError(f"{path}: data.split 'temporal' needs timestamps; set data.time_col to "
                                f"the timestamp column's header name")
            train, test, rows = temporal_split(inter.pairs, inter.times, cfg.test_fraction, index=True)
        else:
            train, test, rows = random_split(inter.pairs, cfg.test_fraction, cfg.seed, index=True)
        train_times = inter.times[rows] if inter.times is not None else None
    if len(train) == 0:
        raise DataError(f"{path}: no training interactions (every line lists a user without items)")
    train, valid = carve_valid(train, cfg.valid_fraction, cfg.seed,
                               validation_times(cfg.valid_split, train_times, str(path)))
    if test_lines is not None:
        test = drop_users_without_train(train, test, n_users, "test", test_src, test_lines)
    else:
        test = drop_users_without_train(train, test, n_users, "test", str(path))
    ds = Dataset(name, n_users, n_items, train, valid, test, user_ids=user_ids, item_ids=item_ids)
    if src != "lightgcn" and inter.ratings is not None:
        ds.ratings = RatingTable.from_pairs(inter.pairs, inter.ratings, n_items)
    return ds
