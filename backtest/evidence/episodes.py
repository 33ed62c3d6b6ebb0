"""Episode replay: named market windows, every strategy side by side.

Built-in windows (:data:`DEFAULT_EPISODES`) are the episodes a portfolio manager
remembers; a config adds its own (or replaces a built-in one of the same name) under
``episodes:`` (``name``, ``start``, ``end``). Within a window, for each strategy and day:
the cumulative return from the window's first day (that day's return included), the
drawdown from the running peak of that path (starting at 1) and the regime label of
the run's model. A built-in episode outside the run's days is skipped with a note; a
config episode outside them is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.errors import ConfigError

EPISODE_COLUMNS = ["episode", "strategy", "date", "regime", "cum_return", "drawdown"]


@dataclass(frozen=True)
class Episode:
    """A named window of calendar days (both ends included)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    builtin: bool = True


DEFAULT_EPISODES: tuple[Episode, ...] = (
    Episode("Q4 2018 QT ramp", pd.Timestamp("2018-10-01"), pd.Timestamp("2018-12-31")),
    Episode("Sep 2019 repo spike", pd.Timestamp("2019-09-03"), pd.Timestamp("2019-10-31")),
    Episode("March 2020", pd.Timestamp("2020-02-19"), pd.Timestamp("2020-04-30")),
    Episode("2022 QT start", pd.Timestamp("2022-05-02"), pd.Timestamp("2022-09-30")),
    Episode("Dec 2025 RMP start", pd.Timestamp("2025-11-03"), pd.Timestamp("2026-03-31")),
)


def episode_list(config_episodes: list | None) -> list[Episode]:
    """Built-in episodes, then the config's (one of the same name replaces the built-in)."""
    extra = [Episode(e.name, pd.Timestamp(e.start), pd.Timestamp(e.end), builtin=False)
             for e in (config_episodes or [])]
    names = {e.name for e in extra}
    return [e for e in DEFAULT_EPISODES if e.name not in names] + extra


def episode_table(returns: pd.DataFrame, regimes: pd.Series, episodes: list[Episode],
                  origin: str = "<config>") -> tuple[pd.DataFrame, list[str]]:
    """``episodes.csv``: each strategy's path through each episode (see the module docstring).

    Parameters
    ----------
    returns : pd.DataFrame
        Daily net returns of the run (one column per strategy).
    regimes : pd.Series
        Regime label per run day.
    episodes : list of Episode
        Windows to replay.
    origin : str
        Config file name (for the error of a config episode outside the run).

    Returns
    -------
    tuple
        ``(table, notes)``.

    Raises
    ------
    ConfigError
        A config episode has no trading day of the run.
    """
    days = pd.DatetimeIndex(returns.index)
    parts, notes = [], []
    for ep in episodes:
        mask = (days >= ep.start) & (days <= ep.end)
        if not mask.any():
            msg = (f"episodes: {ep.name!r} ({ep.start.date()} .. {ep.end.date()}) has no trading day of the run "
                   f"({days[0].date()} .. {days[-1].date()})")
            if not ep.builtin:
                raise ConfigError(f"{origin}: {msg}")
            notes.append(f"{msg}: skipped")
            continue
        sub_days = days[mask]
        if sub_days[-1] < ep.end - pd.Timedelta(days=7) or sub_days[0] > ep.start + pd.Timedelta(days=7):
            notes.append(f"episode {ep.name!r} only partly inside the run ({sub_days[0].date()} .. "
                         f"{sub_days[-1].date()})")
        lab = regimes.reindex(sub_days).astype(object).to_numpy()
        for strat in returns.columns:
            r = returns[strat].to_numpy(dtype=float)[mask]
            live = np.isfinite(r)
            if not live.any():
                continue
            first = int(np.argmax(live))
            x = np.nan_to_num(r[first:])
            wealth = np.cumprod(1.0 + x)
            peak = np.maximum.accumulate(np.concatenate([[1.0], wealth]))[1:]
            parts.append(pd.DataFrame({"episode": ep.name, "strategy": strat,
                                       "date": sub_days[first:].strftime("%Y-%m-%d"), "regime": lab[first:],
                                       "cum_return": wealth - 1.0, "drawdown": wealth / peak - 1.0}))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=EPISODE_COLUMNS)
    return table[EPISODE_COLUMNS], notes
