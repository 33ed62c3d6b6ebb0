"""The article's claims as measured statements: estimate, block-bootstrap interval, episodes, verdict.

Each claim is measured on a daily series ``x`` (a return in excess of cash, or the
difference of two returns) as the **difference of annualised mean daily returns between
the regimes the article means and the rest**::

    estimate = 252 * (mean(x on claimed-regime days) - mean(x on the other days))

Its interval is the percentile interval of the same statistic over stationary
block-bootstrap draws of the days (blocks carry their regime labels). The verdict:

* *too little history*: fewer than :data:`MIN_EPISODES` independent regime episodes or
  fewer than :data:`MIN_DAYS` days, in the claimed regimes or in the rest;
* *supported*: the interval lies above zero; *contradicted*: below zero;
* *not distinguishable from zero*: the interval contains zero.

``docs/evidence.md`` defines every measure (instruments, regimes, excess).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.constants import TRADING_DAYS
from backtest.evidence.bootstrap import (
    BLOCK,
    DRAWS,
    LEVEL,
    block_layout,
    block_sums,
    interval,
    seeded_rng,
)
from backtest.evidence.history import History, episode_runs
from backtest.instruments import durations_at, leverage_at

CLAIM_COLUMNS = ["claim", "measure", "regimes", "estimate", "ci_lo", "ci_hi", "n_days", "n_episodes", "verdict"]
MIN_EPISODES = 3
MIN_DAYS = 252
SUPPORTED, CONTRADICTED, UNCLEAR, TOO_LITTLE = (
    "supported", "contradicted", "not distinguishable from zero", "too little history")
VERDICTS = (SUPPORTED, CONTRADICTED, UNCLEAR, TOO_LITTLE)
EASING = ("qe", "rmp")
NOT_EASING = ("plateau", "qt")


@dataclass(frozen=True)
class ClaimSpec:
    """One measured claim.

    Attributes
    ----------
    claim : str
        The article's claim in plain words.
    measure : str
        What is measured (the daily series), in plain words.
    regimes : tuple of str
        The regimes the article means.
    rest : tuple of str
        The regimes compared against.
    needs : tuple of str
        Instruments the measure needs.
    series : callable
        ``series(history) -> pd.Series`` of daily values on ``history.days``.
    """

    claim: str
    measure: str
    regimes: tuple[str, ...]
    rest: tuple[str, ...]
    needs: tuple[str, ...]
    series: Callable[[History], pd.Series]

    @property
    def regimes_text(self) -> str:
        """``qe+rmp vs plateau+qt``."""
        return f"{'+'.join(self.regimes)} vs {'+'.join(self.rest)}"


def excess(h: History, ticker: str) -> pd.Series:
    """Daily return of ``ticker`` minus the cash return."""
    return h.returns[ticker] - h.rf


def short_vol_unit(h: History) -> pd.Series:
    """SVXY's excess return per unit of -1x short-term VIX futures exposure.

    SVXY was -1x until 2018-02-27 and -0.5x from 2018-02-28
    (:func:`backtest.instruments.leverage_at`): its daily excess return is divided by the
    absolute leverage in force that day, so both periods measure the same exposure.
    """
    lev = np.abs(leverage_at("SVXY", h.days))
    return excess(h, "SVXY") / lev


def short_vixy(h: History) -> pd.Series:
    """Short VIXY (+1x short-term VIX futures): minus its excess return (borrow cost ignored)."""
    return -excess(h, "VIXY")


def spread(long: str | tuple[str, ...], short: str = "SPY") -> Callable[[History], pd.Series]:
    """Daily return of ``long`` (one ticker, or an equal-weight daily-rebalanced basket) minus ``short``."""
    legs = (long,) if isinstance(long, str) else long

    def build(h: History) -> pd.Series:
        basket = h.returns[list(legs)].mean(axis=1, skipna=False)
        return basket - h.returns[short]

    return build


def steepener_excess(h: History) -> pd.Series:
    """DV01-neutral 2s10s steepener in excess of cash: ``(SHY - cash) - h (TLT - cash)``.

    ``h`` is the ratio of the modified durations of SHY and TLT from the yield curve known
    at the previous close (:func:`backtest.instruments.durations_at`; the fixed durations of
    ``instruments.yaml`` where no yield is known).
    """
    d = durations_at(["SHY", "TLT"], h.yields.reindex(h.days))
    ratio = d["SHY"] / d["TLT"]
    hedge = ratio.shift(1).bfill()
    return excess(h, "SHY") - hedge * excess(h, "TLT")


def market_excess(h: History) -> pd.Series:
    """SPY's daily return in excess of cash."""
    return excess(h, "SPY")


CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("Short VIX pays while the Fed adds liquidity",
              "SVXY excess return per unit of -1x VIX futures (x2 from 2018-02-28)", EASING, NOT_EASING,
              ("SVXY",), short_vol_unit),
    ClaimSpec("Short VIX pays while the Fed adds liquidity", "short VIXY (minus its excess return)",
              EASING, NOT_EASING, ("VIXY",), short_vixy),
    ClaimSpec("Gold and real assets beat the broad market", "GLD - SPY", EASING, NOT_EASING,
              ("GLD", "SPY"), spread("GLD")),
    ClaimSpec("Gold and real assets beat the broad market", "equal-weight GLD/DBC/TIP/VNQ - SPY", EASING,
              NOT_EASING, ("GLD", "DBC", "TIP", "VNQ", "SPY"), spread(("GLD", "DBC", "TIP", "VNQ"))),
    ClaimSpec("Small caps and tech beat the broad market", "IWM - SPY", EASING, NOT_EASING, ("IWM", "SPY"),
              spread("IWM")),
    ClaimSpec("Small caps and tech beat the broad market", "QQQ - SPY", EASING, NOT_EASING, ("QQQ", "SPY"),
              spread("QQQ")),
    ClaimSpec("A 2s10s steepener beats cash", "DV01-neutral SHY/TLT steepener excess return", EASING,
              NOT_EASING, ("SHY", "TLT"), steepener_excess),
    ClaimSpec("RMP periods behave like easing", "SPY excess return", ("rmp",), NOT_EASING, ("SPY",),
              market_excess),
)


@dataclass(frozen=True)
class ClaimFigure:
    """The measured figures of one claim."""

    estimate: float
    ci_lo: float
    ci_hi: float
    n_days: int
    n_episodes: int
    n_days_rest: int
    n_episodes_rest: int
    verdict: str


def verdict(ci_lo: float, ci_hi: float, n_days: int, n_episodes: int, n_days_rest: int,
            n_episodes_rest: int) -> str:
    """The plain verdict of an interval (see the module docstring for the thresholds)."""
    if min(n_episodes, n_episodes_rest) < MIN_EPISODES or min(n_days, n_days_rest) < MIN_DAYS:
        return TOO_LITTLE
    if not (np.isfinite(ci_lo) and np.isfinite(ci_hi)):
        return TOO_LITTLE
    if ci_lo > 0:
        return SUPPORTED
    if ci_hi < 0:
        return CONTRADICTED
    return UNCLEAR


def regime_difference(x: np.ndarray, inside: np.ndarray, outside: np.ndarray, runs: np.ndarray,
                      rng: np.random.Generator | Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                      draws: int = DRAWS, block: float = BLOCK, level: float = LEVEL,
                      scheme: str = "stationary") -> ClaimFigure:
    """Annualised difference of mean daily ``x`` inside vs outside, with its bootstrap interval.

    Parameters
    ----------
    x : np.ndarray
        Daily values (NaN = not measured that day).
    inside, outside : np.ndarray
        Boolean masks of the claimed regimes' days and of the rest (days in neither are
        dropped).
    runs : np.ndarray
        Episode (contiguous regime run) number of each day (:func:`episode_runs`).
    rng : numpy.random.Generator or callable
        Source of the bootstrap draws, or ``layout_for(kept_mask) -> (starts, lengths)``
        (:func:`~backtest.evidence.bootstrap.block_layout` of the kept days; to share draws
        between measures on the same days).
    draws, block, level, scheme
        Bootstrap settings (:mod:`backtest.evidence.bootstrap`).

    Returns
    -------
    ClaimFigure
    """
    x = np.asarray(x, dtype=float)
    keep = np.isfinite(x) & (inside | outside)
    xv, ins, runs_v = x[keep], inside[keep].astype(float), runs[keep]
    outs = 1.0 - ins
    n_in, n_out = int(ins.sum()), int(outs.sum())
    ep_in = len(np.unique(runs_v[ins > 0]))
    ep_out = len(np.unique(runs_v[outs > 0]))
    est = lo = hi = float("nan")
    if n_in and n_out:
        est = float(TRADING_DAYS * (xv[ins > 0].mean() - xv[outs > 0].mean()))
        starts, lengths = (block_layout(len(xv), draws, block, rng, scheme)
                           if isinstance(rng, np.random.Generator) else rng(keep))
        s_in, k_in, s_out, k_out = block_sums(np.column_stack([xv * ins, ins, xv * outs, outs]), starts, lengths).T
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = TRADING_DAYS * (s_in / k_in - s_out / k_out)
        lo_a, hi_a = interval(stat, level)
        lo, hi = float(lo_a), float(hi_a)
    return ClaimFigure(est, lo, hi, n_in, ep_in, n_out, ep_out, verdict(lo, hi, n_in, ep_in, n_out, ep_out))


def evaluate_claims(h: History, seed: int, start: pd.Timestamp | None = None, draws: int = DRAWS,
                    block: float = BLOCK, level: float = LEVEL,
                    specs: tuple[ClaimSpec, ...] = CLAIMS) -> tuple[pd.DataFrame, list[str]]:
    """``claims.csv``: one row per measured claim (see the module docstring).

    Parameters
    ----------
    h : History
        Instruments' history with regime labels.
    seed : int
        Root seed (measures kept on the same days share their draws, seeded by those days).
    start : pd.Timestamp, optional
        First day counted (default: the first day of ``h``).
    draws, block, level
        Bootstrap settings.
    specs : tuple of ClaimSpec
        The claims (default :data:`CLAIMS`).

    Returns
    -------
    tuple
        ``(table, notes)``: the table with :data:`CLAIM_COLUMNS`; notes on skipped claims.
    """
    rows, notes = [], []
    days = h.days if start is None else h.days[h.days >= start]
    labels = h.labels.reindex(days)
    lab = labels["regime"].astype(object).to_numpy()
    runs = episode_runs(labels)
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def layout_for(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same draws for every measure kept on the same days (seeded by those days)."""
        key = np.packbits(keep).tobytes()
        if key not in cache:
            rng = seeded_rng(seed, "claims", int(keep.sum()), zlib.crc32(key))
            cache[key] = block_layout(int(keep.sum()), draws, block, rng)
        return cache[key]

    for spec in specs:
        missing = [t for t in spec.needs if t not in h.returns.columns]
        if missing:
            notes.append(f"claim '{spec.claim}' ({spec.measure}) not measured: {missing[0]} is not in the data")
            continue
        x = spec.series(h).reindex(days).to_numpy(dtype=float)
        inside = np.isin(lab, spec.regimes)
        outside = np.isin(lab, spec.rest)
        fig = regime_difference(x, inside, outside, runs, layout_for, draws, block, level)
        rows.append({"claim": spec.claim, "measure": spec.measure, "regimes": spec.regimes_text,
                     "estimate": fig.estimate, "ci_lo": fig.ci_lo, "ci_hi": fig.ci_hi, "n_days": fig.n_days,
                     "n_episodes": fig.n_episodes, "verdict": fig.verdict})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS), notes
