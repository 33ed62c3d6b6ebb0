"""One error hierarchy for rmpbt: every error a user can cause is one of these.

The CLI catches :class:`RmpbtError`, prints ``str(err)`` on one line and exits with
``err.exit_code`` (2 for bad input). Messages must name the file, key, date, ticker,
series or strategy at fault.
"""

from __future__ import annotations

import errno


class RmpbtError(Exception):
    """Base class of all user-facing rmpbt errors."""

    exit_code: int = 2
    kind: str = "error"

    def __str__(self) -> str:  # one line, always
        msg = super().__str__()
        return " ".join(msg.split())


class ConfigError(RmpbtError):
    """Bad configuration: unreadable file, unknown key, wrong type, bad value."""

    kind = "config error"


class DataError(RmpbtError):
    """Bad or missing market data: unknown ticker, NaN run, duplicate date, stale series."""

    kind = "data error"


class RegimeError(RmpbtError):
    """Bad regime calendar or regime-model input."""

    kind = "regime error"


class StrategyError(RmpbtError):
    """A strategy could not produce valid weights."""

    kind = "strategy error"


class OptimizerError(RmpbtError):
    """The optimizer failed (infeasible, unbounded, solver error) and was told to raise."""

    kind = "optimizer error"


class InfeasibleError(OptimizerError):
    """The allocation problem has no feasible point."""


class SolverError(OptimizerError):
    """Every solver in the chain failed or returned a non-optimal status."""


class ScenarioError(RmpbtError):
    """Bad scenario definition (probabilities, transition matrix, analogue periods)."""

    kind = "scenario error"


class SweepError(RmpbtError):
    """Bad tuning request (grid, walk-forward window, scheduler)."""

    kind = "tune error"


class ResultsError(RmpbtError):
    """A results folder is missing, incomplete or of an incompatible format."""

    kind = "results error"


class FileError(RmpbtError):
    """A file or folder cannot be read or written: missing, wrong type, read-only, disk full."""

    kind = "file error"


class ResourceError(RmpbtError):
    """A request would need more memory or time than the guard allows (override with --force)."""

    kind = "resource error"


#: errno values that a user can fix (space, permissions, wrong path or file type).
USER_ERRNOS = frozenset(
    getattr(errno, n)
    for n in (
        "ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "ENOENT", "EISDIR", "ENOTDIR",
        "ENOTEMPTY", "EEXIST", "ENAMETOOLONG", "ELOOP", "EMFILE", "ENFILE", "EFBIG", "EXDEV",
        "ETXTBSY", "EBUSY", "ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT",
    )
    if hasattr(errno, n)
)


def file_error(exc: OSError, path: object = None) -> FileError:
    """A one-line :class:`FileError` for an ``OSError``, naming the path and the reason.

    Parameters
    ----------
    exc : OSError
        The operating-system error.
    path : object, optional
        What to name when ``exc`` carries no file name.
    """
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or type(exc).__name__
    return FileError(f"{where}: {reason}" if where is not None else reason)


def is_user_os_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an ``OSError`` the user can fix (disk full, read-only, wrong path)."""
    return isinstance(exc, OSError) and exc.errno in USER_ERRNOS


class Unsupported(Exception):  # noqa: N818 - a routing signal, not a user error
    """A strategy (or one of its rules, signals or optimizer blocks) has no batch form; evaluate it one by one.

    Not an :class:`RmpbtError`: callers catch it and take the per-path route.
    Re-exported as :class:`strategies.base.Unsupported`.
    """


class Interrupted(BaseException):  # noqa: N818 - a signal, not an error
    """SIGINT, SIGTERM or SIGHUP: unwinds like ``KeyboardInterrupt`` (temp folders removed).

    A ``BaseException`` (not ``KeyboardInterrupt``) so that no library swallows it on the
    way up to ``rmpbt``'s entry point, which prints "interrupted: nothing written".
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
