"""Event studies around the Fed calendar's announcements and effective dates, with placebo p-values.

**Events** (:func:`calendar_events`) come from the point-in-time calendar: each QE, QT
and RMP regime's announcement (``<kind>_start``), its effective date when it falls on a
later trading day (``<kind>_effective``), its end on the day the end was known (the next
regime's announcement when that came first, else the first day after the end:
``<kind>_end``), and the changes of pace announced inside a regime (the calendar's
``announcements``: ``<kind>_taper``).

**Windows.** Day 0 is the first trading day on or after the event's date; a window
``(lo, hi)`` covers days ``lo … hi`` (both included). ``cum_return`` is the compounded
return in excess of cash over the window, ``prod(1 + r_t - rf_t) - 1`` (:func:`compound`);
the placebo windows compound the same product through prefix sums of
``log(1 + r_t - rf_t)`` (:func:`log_prefix`, :func:`window_returns`: one subtraction per
window, however many placebos; equal to the product to about 1e-14). A window that does
not fit inside the subject's history, or holds a missing return, is not reported.

**Placebos.** For an event of regime kind ``k`` (the regime that starts, ends or changes
pace), :data:`PLACEBOS` placebo windows of the same shape are drawn (with replacement,
from a generator seeded by the run's seed and the event, subject and window) among the
days that the point-in-time calendar labels ``k`` **and whose whole window ends before the
event's window starts**: only history known at the event is used, so a figure whose
window ends before a date never changes with data after it. ``placebo_p`` is the share of
placebo windows at least as far from the placebo median as the event's,
``(1 + #{|p - m| >= |e - m|}) / (1 + N)``; NaN with fewer than :data:`MIN_POOL` eligible
placebo days.

The run folder's ``event_study.csv`` (cumulative excess return around each regime start of
the run's own labels, :func:`regime_start_paths`) is compounded by the same
:func:`compound`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.data.regime_calendar import RegimeCalendar
from backtest.evidence.bootstrap import seeded_rng
from backtest.regimes.scoring import regime_starts

WINDOWS: tuple[tuple[int, int], ...] = ((-5, 20), (0, 60))
CHART_WINDOW = (-5, 60)
PLACEBOS = 1000
MIN_POOL = 63
BAND = (0.05, 0.95)
EVENT_COLUMNS = ["event", "date", "kind", "subject", "window", "cum_return", "placebo_p"]
PATH_COLUMNS = ["kind", "subject", "day", "n_events", "mean", "placebo_lo", "placebo_median", "placebo_hi"]
PRE_DAYS = 20
POST_DAYS = 60
RUN_EVENT_COLUMNS = ["strategy", "regime_id", "regime", "start", "day", "cum_excess"]


@dataclass(frozen=True)
class Event:
    """One dated event of the point-in-time calendar."""

    id: str
    date: pd.Timestamp
    kind: str
    regime: str


@dataclass(frozen=True)
class Subject:
    """A daily excess-return series an event study is run on (an instrument or a strategy)."""

    name: str
    days: pd.DatetimeIndex
    x: np.ndarray
    pit: np.ndarray


def window_label(lo: int, hi: int) -> str:
    """``-5..+20``."""
    return f"{lo:+d}..{hi:+d}".replace("+0..", "0..")


def calendar_events(cal: RegimeCalendar, days: pd.DatetimeIndex) -> list[Event]:
    """The dated events of the calendar (see the module docstring), in date order.

    Parameters
    ----------
    cal : RegimeCalendar
        The Fed calendar.
    days : pd.DatetimeIndex
        Trading days, to tell whether an effective date falls on the announcement's trading day.

    Returns
    -------
    list of Event
    """
    days = pd.DatetimeIndex(days)

    def anchor(d: pd.Timestamp) -> int:
        return int(days.searchsorted(d, side="left"))

    out: list[Event] = []
    regs = cal.regimes
    for i, r in enumerate(regs):
        if r.kind == "plateau":
            continue
        out.append(Event(f"{r.id} announced", r.announced, f"{r.kind}_start", r.kind))
        if anchor(r.effective) != anchor(r.announced):
            out.append(Event(f"{r.id} effective", r.effective, f"{r.kind}_effective", r.kind))
        if r.end is not None:
            after = r.end + pd.Timedelta(days=1)
            nxt = regs[i + 1] if i + 1 < len(regs) else None
            known = nxt.announced if nxt is not None and nxt.announced <= after else after
            out.append(Event(f"{r.id} end", known, f"{r.kind}_end", r.kind))
    kinds = {r.id: r.kind for r in regs}
    for a in cal.announcements:
        k = kinds.get(a.regime, "plateau")
        out.append(Event(a.id, a.date, f"{k}_{a.kind}", k))
    return sorted(out, key=lambda e: (e.date, e.id))


def compound(x: np.ndarray) -> np.ndarray:
    """Compounded cumulative return along the last axis: ``cumprod(1 + x) - 1``."""
    return np.cumprod(1.0 + x, axis=-1) - 1.0


def log_prefix(x: np.ndarray) -> np.ndarray:
    """``S[k] = sum(log1p(x[:k]))`` (``S[0] = 0``; NaN counted as 0): a window's growth is ``exp(S[b] - S[a])``."""
    return np.concatenate([[0.0], np.cumsum(np.log1p(np.nan_to_num(np.asarray(x, dtype=float))))])


def window_paths(prefix: np.ndarray, anchors: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Cumulative excess-return paths of the windows ``anchor + lo … anchor + hi``, ``(len(anchors), hi - lo + 1)``.

    ``prefix`` is :func:`log_prefix` of the daily excess returns; column ``j`` is the
    compounded return from day ``lo`` through day ``lo + j``.
    """
    a = np.asarray(anchors, dtype=np.int64)[:, None]
    return np.expm1(prefix[a + np.arange(lo + 1, hi + 2)[None, :]] - prefix[a + lo])


def window_returns(prefix: np.ndarray, anchors: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Compounded excess return of each window ``anchor + lo … anchor + hi`` (the last column of :func:`window_paths`)."""
    a = np.asarray(anchors, dtype=np.int64)
    return np.expm1(prefix[a + hi + 1] - prefix[a + lo])


def valid_windows(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Whether the window ``t + lo … t + hi`` fits in ``x`` and holds no NaN, for every ``t``."""
    n = len(x)
    nan_c = np.concatenate([[0], np.cumsum(~np.isfinite(x))])
    t = np.arange(n)
    ok = (t + lo >= 0) & (t + hi < n)
    a, b = np.clip(t + lo, 0, n), np.clip(t + hi + 1, 0, n)
    return ok & (nan_c[b] - nan_c[a] == 0)


def placebo_p(value: float, placebo: np.ndarray) -> float:
    """Share of placebo values at least as far from their median as ``value`` (with the +1 correction)."""
    m = float(np.median(placebo))
    return float((1 + np.count_nonzero(np.abs(placebo - m) >= abs(value - m))) / (1 + len(placebo)))


def placebo_pool(valid_k: np.ndarray, anchor: int, lo: int, hi: int) -> np.ndarray:
    """Eligible placebo anchors: sorted positions in ``valid_k`` whose window ends before ``anchor + lo``."""
    return valid_k[: int(np.searchsorted(valid_k, anchor + lo - hi, side="left"))]


def subject_study(subject: Subject, events: list[Event], seed: int, windows: tuple[tuple[int, int], ...] = WINDOWS,
                  placebos: int = PLACEBOS, min_pool: int = MIN_POOL) -> tuple[list[dict], dict]:
    """Event rows of one subject, and its chart sums per event kind.

    Returns
    -------
    tuple
        ``(rows, chart)``: rows with :data:`EVENT_COLUMNS`; ``chart[kind] = (n_events,
        sum of event paths, sum of placebo paths)`` over :data:`CHART_WINDOW` (events with a
        placebo pool only).
    """
    x, n = subject.x, len(subject.x)
    prefix = log_prefix(x)
    anchors = {e.id: int(subject.days.searchsorted(e.date, side="left")) for e in events}
    rows: list[dict] = []
    chart: dict[str, list] = {}
    all_windows = list(windows) + ([CHART_WINDOW] if CHART_WINDOW not in windows else [])
    for lo, hi in all_windows:
        is_chart = (lo, hi) == CHART_WINDOW
        in_table = (lo, hi) in windows
        label = window_label(lo, hi)
        valid = valid_windows(x, lo, hi)
        by_kind = {k: np.flatnonzero(valid & (subject.pit == k)) for k in {e.regime for e in events}}
        for e in events:
            a = anchors[e.id]
            if a >= n or not valid[a]:
                continue
            pool = placebo_pool(by_kind[e.regime], a, lo, hi)
            picks = None
            if len(pool) >= min_pool:
                rng = seeded_rng(seed, "event", e.id, subject.name, lo, hi)
                picks = pool[rng.integers(0, len(pool), placebos)]
            path = compound(x[a + lo:a + hi + 1])
            if in_table:
                value = float(path[-1])
                p = float("nan") if picks is None else placebo_p(value, window_returns(prefix, picks, lo, hi))
                rows.append({"event": e.id, "date": e.date.date().isoformat(), "kind": e.kind,
                             "subject": subject.name, "window": label, "cum_return": value, "placebo_p": p})
            if is_chart and picks is not None:
                acc = chart.setdefault(e.kind, [0, np.zeros(hi - lo + 1), np.zeros((placebos, hi - lo + 1))])
                acc[0] += 1
                acc[1] += path
                acc[2] += window_paths(prefix, picks, lo, hi)
    return rows, chart


def event_study(subjects: list[Subject], events: list[Event], seed: int,
                windows: tuple[tuple[int, int], ...] = WINDOWS, placebos: int = PLACEBOS,
                min_pool: int = MIN_POOL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``event_study.csv`` and the average paths with their placebo band (``event_paths.csv``).

    Parameters
    ----------
    subjects : list of Subject
        Instruments and strategies (daily excess returns with point-in-time labels).
    events : list of Event
        Events of :func:`calendar_events`.
    seed : int
        Root seed of the placebo draws.
    windows : tuple of (int, int)
        Windows of the table.
    placebos : int
        Placebo windows per event.
    min_pool : int
        Fewest eligible placebo days for a p-value.

    Returns
    -------
    tuple of pd.DataFrame
        ``(events, paths)`` with :data:`EVENT_COLUMNS` and :data:`PATH_COLUMNS`. A path's
        ``mean`` is the average over the kind's events of the cumulative excess return from
        day -5; the band is the 5-95 % range of the same average over placebo draws.
    """
    rows: list[dict] = []
    cols: dict[str, list] = {c: [] for c in PATH_COLUMNS}
    lo, hi = CHART_WINDOW
    days = np.arange(lo, hi + 1)
    for s in subjects:
        r, chart = subject_study(s, events, seed, windows, placebos, min_pool)
        rows.extend(r)
        for kind, (n_ev, ev_sum, pl_sum) in chart.items():
            q = np.quantile(np.ascontiguousarray((pl_sum / n_ev).T), [BAND[0], 0.5, BAND[1]], axis=1)
            for c, v in (("kind", [kind] * len(days)), ("subject", [s.name] * len(days)), ("day", days),
                         ("n_events", np.full(len(days), n_ev)), ("mean", ev_sum / n_ev), ("placebo_lo", q[0]),
                         ("placebo_median", q[1]), ("placebo_hi", q[2])):
                cols[c].append(v)
    ev = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if not cols["day"]:
        return ev, pd.DataFrame(columns=PATH_COLUMNS)
    return ev, pd.DataFrame({c: np.concatenate(v) for c, v in cols.items()})[PATH_COLUMNS]


def regime_start_paths(returns: pd.DataFrame, labels: pd.DataFrame, rf: pd.Series,
                       pre: int = PRE_DAYS, post: int = POST_DAYS) -> pd.DataFrame:
    """The run folder's ``event_study.csv``: cumulative excess return around each regime start.

    For each strategy and each start of a regime of the run's own labels inside the sample
    (not the run the sample starts in; :func:`backtest.regimes.scoring.regime_starts`), the
    compounded excess return over cash (:func:`compound`) from ``pre`` trading days before
    the start through day ``d``, for ``d`` in ``-pre … post`` (day 0 = first day of the new
    regime). Windows are cut at the sample ends; NaN before a strategy is invested.

    Returns
    -------
    pd.DataFrame
        Columns ``strategy, regime_id, regime, start, day, cum_excess``.
    """
    lab = labels.reindex(returns.index)
    starts = regime_starts(lab)
    cash = rf.reindex(returns.index).fillna(0.0).to_numpy(dtype=float)
    n = len(returns.index)
    cols: dict[str, list] = {c: [] for c in RUN_EVENT_COLUMNS}
    sizes: list[int] = []
    for strat in returns.columns:
        r = returns[strat].to_numpy(dtype=float)
        excess = np.where(np.isnan(r), np.nan, r - cash)
        for row in starts.itertuples(index=False):
            lo, hi = max(row.pos - pre, 0), min(row.pos + post, n - 1)
            ex = excess[lo:hi + 1]
            if np.isnan(ex).all():
                continue
            cum = compound(np.nan_to_num(ex))
            cum[np.isnan(ex) & (np.cumsum(~np.isnan(ex)) == 0)] = np.nan  # not yet invested
            # one frame per (strategy, start) costs ~0.5 ms each: collect the columns instead
            for c, v in (("strategy", strat), ("regime_id", row.regime_id), ("regime", row.regime),
                         ("start", row.start)):
                cols[c].append(v)
            cols["day"].append(np.arange(lo - row.pos, hi - row.pos + 1))
            cols["cum_excess"].append(cum)
            sizes.append(hi - lo + 1)
    if not sizes:
        return pd.DataFrame(columns=RUN_EVENT_COLUMNS)
    reps = np.asarray(sizes)
    scalars = {c: pd.Series(cols[c]).repeat(reps).reset_index(drop=True)
               for c in ("strategy", "regime_id", "regime", "start")}
    out = pd.DataFrame({**scalars, "day": np.concatenate(cols["day"]),
                        "cum_excess": np.concatenate(cols["cum_excess"])})
    return out[RUN_EVENT_COLUMNS]
