"""An exclusive, stale-aware lock file: one writer per run directory.

The lock is a file created with ``O_CREAT | O_EXCL`` (atomic on local and NFSv3+ file systems)
holding ``pid host time``. A second process that finds it reads the pid: if that process is alive on
this host the lock is held and :class:`~darts_gnn.errors.RunDirError` says by whom; if it is dead
(SIGKILL, power cut) the lock is stale, is logged, removed and taken over.
"""
from __future__ import annotations

import errno
import logging
import os
import socket
import time
from pathlib import Path

from ..errors import RunDirError

__all__ = ["LockFile", "LOCK_NAME"]

LOCK_NAME = ".lock"
log = logging.getLogger("darts_gnn")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class LockFile:
    """``LockFile(path).acquire()`` / ``.release()``; the owner is this process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.held = False

    def _owner(self) -> tuple[int, str] | None:
        try:
            fields = self.path.read_text().split()
            return int(fields[0]), fields[1] if len(fields) > 1 else ""
        except (OSError, ValueError, IndexError):
            return None

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n")
        return True

    def acquire(self) -> "LockFile":
        """Take the lock; :class:`RunDirError` when a live process holds it."""
        for _ in range(3):
            if self._try_create():
                self.held = True
                return self
            owner = self._owner()
            if owner is None:  # being written right now, or garbage: give the writer a moment
                time.sleep(0.05)
                owner = self._owner()
            here = socket.gethostname()
            if owner is not None and (owner[1] not in ("", here) or _alive(owner[0])):
                where = f" on {owner[1]}" if owner[1] not in ("", here) else ""
                raise RunDirError(f"{self.path.parent}: in use by another darts-gnn process (pid "
                                  f"{owner[0]}{where}; lock file {self.path}); wait for it to finish or "
                                  f"choose another --out")
            log.warning("%s: removing a stale lock (%s)", self.path,
                        f"pid {owner[0]} is not running" if owner else "unreadable")
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
        raise RunDirError(f"{self.path.parent}: could not take the lock {self.path}; another process keeps "
                          f"taking it")

    def release(self) -> None:
        if self.held:
            owner = self._owner()
            if owner is not None and owner[0] == os.getpid():
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
            self.held = False

    def __enter__(self) -> "LockFile":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
