"""Only rank 0 writes the run directory.

:func:`darts_gnn.engine.rundir.open_run` goes through :func:`open_shared_run`. Rank 0 opens (creates,
locks, checks) the run directory as a one-process run does and broadcasts its path, or the error
that refused it, so that every rank fails the same way. Every other rank runs the same code against
a scratch run directory (:func:`scratch_run_dir`): a private temporary folder, deleted at the end,
whose TensorBoard writer does nothing, so code that writes ``run.file(...)`` directly needs no rank
test. For ``--resume``, the scratch folder starts as a copy of the run directory (its checkpoint
and config), read from the path rank 0 broadcast: on several machines the run directory must be on
a shared file system.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import RunDirError
from .context import active, is_main, rank
from .sync import broadcast_object

__all__ = ["open_shared_run", "scratch_run_dir", "NullWriter"]


class NullWriter:
    """A TensorBoard writer that writes nothing (every method is a no-op)."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None

    def add_figure(self, tag, figure, *args, close: bool = True, **kwargs) -> None:
        """Closes ``figure`` (a matplotlib figure or a list of them) as TensorBoard's writer does."""
        if close:
            import matplotlib.pyplot as plt
            for fig in figure if isinstance(figure, list) else [figure]:
                plt.close(fig)


def scratch_run_dir(run_class: type, path: str | Path, shared_path: str | Path):
    """A ``run_class`` (:class:`~darts_gnn.engine.rundir.RunDir`) at ``path`` whose ``writer()`` is a
    :class:`NullWriter`; ``shared_path`` is rank 0's run directory."""
    run = run_class(path)
    null = NullWriter()
    run.writer = lambda: null
    run.shared_path = Path(shared_path)
    return run


def _copy_for_resume(src: Path, dst: Path) -> None:
    for p in src.iterdir():
        if p.name.startswith((".", "events.out.tfevents")):
            continue
        if p.is_dir():
            shutil.copytree(p, dst / p.name)
        else:
            shutil.copy2(p, dst / p.name)


@contextlib.contextmanager
def open_shared_run(open_local: Callable[..., Any], run_class: type, out, name: str = "run", root="runs", *,
                    resume: bool = False, **kw: Any) -> Iterator[Any]:
    """``open_local(out, name, root, resume=resume, **kw)`` on rank 0; a scratch ``run_class``
    (:func:`scratch_run_dir`) elsewhere; plain ``open_local`` in a one-process run."""
    if not active():
        with open_local(out, name, root, resume=resume, **kw) as run:
            yield run
        return
    if is_main():
        with contextlib.ExitStack() as stack:
            try:
                run = stack.enter_context(open_local(out, name, root, resume=resume, **kw))
            except BaseException as e:
                broadcast_object({"error": str(e) or type(e).__name__}, what="opening the run directory")
                raise
            broadcast_object({"path": str(run.path)}, what="opening the run directory")
            yield run
        return
    msg = broadcast_object(None, what="opening the run directory")
    if "error" in msg:
        raise RunDirError(f"rank 0 could not open the run directory: {msg['error']}")
    scratch = Path(tempfile.mkdtemp(prefix=f"darts-gnn-rank{rank()}-"))
    try:
        if resume:
            _copy_for_resume(Path(msg["path"]), scratch)
        run = scratch_run_dir(run_class, scratch, msg["path"])
        try:
            yield run
        finally:
            run.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
