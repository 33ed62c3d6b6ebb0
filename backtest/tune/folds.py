"""Training/test windows of ``rmpbt tune``: ``--walk-forward`` and ``--split`` folds, periods."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import SweepError

MIN_TEST_DAYS = 20



@dataclass(frozen=True)
class Fold:
    """One training window and the test window after it (row indices into the run's days)."""

    train: np.ndarray
    test: np.ndarray


MAX_PERIOD = {"D": 36_525, "W": 5_218, "M": 1_200, "Y": 100}  # 100 years: longer windows cannot fit any data
_PERIOD = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


def parse_period(text: str, what: str) -> pd.DateOffset:
    """``36M``, ``3Y``, ``26W``, ``90D`` (calendar) -> ``pd.DateOffset``."""
    m = _PERIOD.match(text)
    if not m or int(m.group(1)) <= 0:
        raise SweepError(f"--walk-forward {what}={text}: expected a positive length like 36M, 3Y, 26W or 90D")
    n, unit = int(m.group(1)), m.group(2).upper()
    if n > MAX_PERIOD[unit]:
        raise SweepError(f"--walk-forward {what}={text}: longer than 100 years (at most {MAX_PERIOD[unit]:,}{unit})")
    return {"D": pd.DateOffset(days=n), "W": pd.DateOffset(weeks=n), "M": pd.DateOffset(months=n),
            "Y": pd.DateOffset(years=n)}[unit]


def walk_forward_folds(days: pd.DatetimeIndex, spec: str) -> list[Fold]:
    """Rolling (or ``anchored``) folds from ``train=36M,test=12M[,step=12M][,anchored]``.

    Fold ``f`` trains on ``[d0 + f*step, d0 + f*step + train)`` (anchored: from ``d0``) and
    tests on the ``test`` period after it; the last test window may be shorter (at least
    20 trading days).

    Raises
    ------
    SweepError
        Malformed spec, or train + test longer than the data.
    """
    opts: dict[str, str] = {}
    anchored = False
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if part.lower() == "anchored":
            anchored = True
            continue
        if "=" not in part:
            raise SweepError(f"--walk-forward {spec}: expected train=36M,test=12M[,step=..][,anchored]")
        k, v = (s.strip().lower() for s in part.split("=", 1))
        if k not in ("train", "test", "step"):
            raise SweepError(f"--walk-forward {spec}: unknown part {k!r} (train, test, step, anchored)")
        opts[k] = v
    if "train" not in opts or "test" not in opts:
        raise SweepError(f"--walk-forward {spec}: needs both train= and test=")
    train, test = parse_period(opts["train"], "train"), parse_period(opts["test"], "test")
    step = parse_period(opts["step"], "step") if "step" in opts else test
    d0, last = days[0], days[-1]
    if d0 + train + test > last + pd.Timedelta(days=1):
        raise SweepError(
            f"--walk-forward {spec}: train + test is longer than the data "
            f"({d0.date()} to {last.date()}, {len(days)} days)")
    folds: list[Fold] = []
    f = 0
    while True:
        start = d0 if anchored else d0 + step * f
        train_end = d0 + step * f + train
        test_end = train_end + test
        tr = np.flatnonzero((days >= start) & (days < train_end))
        te = np.flatnonzero((days >= train_end) & (days < test_end))
        if len(te) < MIN_TEST_DAYS or len(tr) < 2:
            break
        folds.append(Fold(tr, te))
        f += 1
        if test_end > last:
            break
    if not folds:
        raise SweepError(f"--walk-forward {spec}: no complete fold in {d0.date()} to {last.date()}")
    return folds


def split_folds(days: pd.DatetimeIndex, date: str | pd.Timestamp) -> list[Fold]:
    """One fold: train before ``date``, test from ``date``.

    Raises
    ------
    SweepError
        Bad date, or either side has fewer than 20 trading days.
    """
    try:
        d = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise SweepError(f"--split {date}: not a date (YYYY-MM-DD)") from None
    tr = np.flatnonzero(days < d)
    te = np.flatnonzero(days >= d)
    if len(tr) < MIN_TEST_DAYS or len(te) < MIN_TEST_DAYS:
        raise SweepError(f"--split {date}: must leave at least {MIN_TEST_DAYS} trading days on each side "
                         f"of the data ({days[0].date()} to {days[-1].date()})")
    return [Fold(tr, te)]
