"""Exceptions that the CLI reports as one line and exit code 2 (bad input, not a bug)."""
from __future__ import annotations

__all__ = ["UserError", "user_errors"]


class UserError(ValueError):
    """Bad input from the user: a missing file, an incompatible checkpoint, a bad option value."""


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types the CLI reports as bad input (imported lazily: config and data import torch)."""
    from .config import ConfigError
    from .data.dataset import DataError
    return (UserError, ConfigError, DataError, FileNotFoundError)

