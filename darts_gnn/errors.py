"""Exceptions that the CLI reports as one line and exit code 2 (bad input, not a bug)."""
from __future__ import annotations

__all__ = ["UserError", "USER_ERRORS"]


class UserError(ValueError):
    """Bad input from the user: a missing file, an incompatible checkpoint, a bad option value."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from .config import ConfigError
    from .data.dataset import DataError
    return (UserError, ConfigError, DataError, FileNotFoundError)


USER_ERRORS = _user_errors
