"""Expected failures and the CLI's exit codes.

Every failure a user can cause or meet (bad config, bad data, a busy or occupied run directory, a
filesystem error, a diverging model, an interruption) maps to one line on stderr and one of these
exit codes (see ``docs/reliability.md``); anything else is a bug (exit 1, traceback with ``-v``).
This module is the bottom of the package: it imports nothing from ``darts_gnn``, and the exception
types of the layers above (:class:`ConfigError`, :class:`DataError`, :class:`TrainingError`) are
defined here and re-exported where they are raised.

=====  ====================================================================================
code   meaning
=====  ====================================================================================
0      success
1      internal error (a bug: please report it with the ``-v`` traceback)
2      bad input: config, data, checkpoint, run directory, filesystem, command-line usage; out of memory
3      training or search diverged (NaN/inf loss); the last good state is kept
130    interrupted by SIGINT (Ctrl-C); the run directory is marked ``interrupted``
141    the reader of standard output went away (``| head``): stopped quietly, as a Unix filter does
143    terminated by SIGTERM; the run directory is marked ``interrupted``
=====  ====================================================================================
"""
from __future__ import annotations

import csv
import signal

__all__ = [
    "UserError", "RunDirError", "ConfigError", "DataError", "TrainingError", "Interrupted", "user_errors", "classify",
    "EXIT_OK", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_SIGINT", "EXIT_SIGTERM",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class UserError(ValueError):
    """Bad input from the user: a missing file, an incompatible checkpoint, a bad option value."""


class ConfigError(ValueError):
    """A bad configuration: names the key (and file) and what was expected."""


class DataError(ValueError):
    """Bad input data. The message names the file (and line) and what was expected."""


class TrainingError(FloatingPointError):
    """Training diverged (a NaN or infinite loss); the message names the epoch and the batch."""


class RunDirError(UserError):
    """A run directory that cannot be used: in use by another process, or holding another run."""


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread when the process receives ``signum`` (SIGTERM, or SIGINT)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types the CLI reports as bad input."""
    return (UserError, ConfigError, DataError, OSError, csv.Error, UnicodeError)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _os_message(e: OSError) -> str:
    what = e.strerror or _first_line(e)
    if e.filename is not None and e.filename2 is not None:
        return f"{e.filename} -> {e.filename2}: {what}"
    if e.filename is not None:
        return f"{e.filename}: {what}"
    return what


def classify(e: BaseException) -> tuple[int, str]:
    """``(exit code, one-line message)`` for an exception that reached the CLI."""
    if isinstance(e, KeyboardInterrupt):
        signum = getattr(e, "signum", signal.SIGINT)
        return 128 + signum, getattr(e, "reason", None) or f"interrupted by {signal.Signals(signum).name}"
    if isinstance(e, TrainingError):
        return EXIT_DIVERGED, _first_line(e)
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and any(
            s in str(e) for s in ("can't allocate memory", "out of memory", "Cannot allocate memory"))):
        text = " ".join(str(e).split())
        size = text[text.find("you tried"):].split(".")[0] if "you tried" in text else type(e).__name__
        return EXIT_BAD_INPUT, (f"out of memory ({size}); use a smaller model.dim, train.batch_size or "
                                f"train.eval_batch_users, or a smaller data set")
    if isinstance(e, OSError) and not isinstance(e, UserError):
        return EXIT_BAD_INPUT, _os_message(e)
    if isinstance(e, user_errors()):
        return EXIT_BAD_INPUT, _first_line(e)
    return EXIT_INTERNAL, (f"internal error ({type(e).__name__}: {_first_line(e)}); run with -v for the "
                           f"traceback and please report it")
