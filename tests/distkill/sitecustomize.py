"""Test-only fault injection for tests/test_distributed.py (on PYTHONPATH only there).

In a process with ``RANK`` equal to ``$DISTKILL_RANK``, the search's checkpoint hook kills its own
process with SIGKILL right after epoch ``$DISTKILL_EPOCH`` has been checkpointed: a rank that dies
mid-run, as an out-of-memory killer or a lost machine would make it.
"""
import os
import signal

if os.environ.get("DISTKILL_RANK") is not None and os.environ.get("RANK") == os.environ["DISTKILL_RANK"]:
    from darts_gnn.search import checkpoint as _checkpoint

    _hook = _checkpoint.CheckpointHook.__call__
    _epoch = int(os.environ.get("DISTKILL_EPOCH", "0"))

    def _dying_hook(self, searcher, epoch, record):
        out = _hook(self, searcher, epoch, record)
        if epoch == _epoch:
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    _checkpoint.CheckpointHook.__call__ = _dying_hook
