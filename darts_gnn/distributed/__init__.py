r"""Data-parallel training and search on ``torch.distributed`` (torchrun, gloo on CPU, nccl on GPUs).

Every rank holds the whole graph and model; each global BPR batch is split across the ranks
(:class:`ShardedBatches`); after each backward pass one all-reduce turns the ranks' gradients
(weights *and* α, including the second-order virtual step) into the gradient of the global batch
(:class:`GradSync`, :math:`g = \sum_r (b_r / B)\, g_r`), so every rank takes the same optimiser
step; α is checked bit-identical across ranks after every search epoch (:func:`check_identical`).
Evaluation is sharded over users and gathered (:func:`gather_rows`); decisions taken from wall time
come from rank 0 (:func:`agree`); only rank 0 writes the run directory (:func:`open_shared_run`).
In a one-process run every helper is the identity. See ``docs/distributed.md``.
"""
from .context import (ENV_BACKEND, ENV_TIMEOUT, active, backend_for, init, is_main, rank, session, teardown,
                      timeout_seconds, world_size)
from .launch import launch, strip_nproc, torchrun_command
from .rundir import NullWriter, open_shared_run, scratch_run_dir
from .sampler import ShardedBatches, shard_batch, shard_batches, shard_bounds
from .sync import (DivergedRanksError, GradSync, RankLostError, agree, broadcast_object, check_identical,
                   gather_rows, grad_sync, shard_range, tensor_digest)

__all__ = ["active", "rank", "world_size", "is_main", "init", "teardown", "session", "backend_for",
           "timeout_seconds", "ENV_TIMEOUT", "ENV_BACKEND", "launch", "strip_nproc", "torchrun_command",
           "open_shared_run", "scratch_run_dir", "NullWriter", "ShardedBatches", "shard_batch", "shard_batches",
           "shard_bounds", "GradSync", "grad_sync", "agree", "broadcast_object", "check_identical",
           "tensor_digest", "gather_rows", "shard_range", "RankLostError", "DivergedRanksError"]
