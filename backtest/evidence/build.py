"""Everything ``rmpbt evidence`` computes, from a run's in-memory output.

:func:`build_evidence` takes the :class:`~backtest.pipeline.RunOutput` of a run (the
caller runs the pipeline: ``rmpbt evidence`` and ``rmpbt.evidence``), loads the trades'
instruments over their longer history (:mod:`backtest.evidence.history`) and computes
the claims, the event studies, the regime attribution and the episode replay.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from backtest.evidence.attribution import attribution_tables
from backtest.evidence.bootstrap import BLOCK, DRAWS, LEVEL
from backtest.evidence.claims import MIN_DAYS, MIN_EPISODES, evaluate_claims
from backtest.evidence.episodes import episode_list, episode_table
from backtest.evidence.events import (
    CHART_WINDOW,
    MIN_POOL,
    PLACEBOS,
    WINDOWS,
    Subject,
    calendar_events,
    event_study,
    window_label,
)
from backtest.evidence.history import History, evidence_tickers, load_history, pit_labels


@dataclass
class EvidenceRun:
    """The evidence of one config, in memory (``write_evidence`` writes it).

    Attributes
    ----------
    claims, event_study, event_paths, attribution, attribution_sleeves, episodes : pd.DataFrame
        The tables of the folder (``<name>.csv``).
    run : backtest.pipeline.RunOutput
        The run behind the strategies' figures.
    history : History
        The instruments' history behind the claims and the instruments' event studies.
    seed : int
        Root seed of every random draw.
    settings : dict
        Bootstrap, placebo and threshold settings (recorded in ``provenance.json``).
    notes : list of str
        What was skipped or is worth knowing.
    timings : dict
        Seconds per step.
    """

    claims: pd.DataFrame
    event_study: pd.DataFrame
    event_paths: pd.DataFrame
    attribution: pd.DataFrame
    attribution_sleeves: pd.DataFrame
    episodes: pd.DataFrame
    run: Any
    history: History
    seed: int
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The CSV tables by file stem."""
        return {"claims": self.claims, "event_study": self.event_study, "event_paths": self.event_paths,
                "attribution": self.attribution, "attribution_sleeves": self.attribution_sleeves,
                "episodes": self.episodes}

    @property
    def data_end(self) -> pd.Timestamp:
        """Last day of the data behind the figures."""
        return pd.Timestamp(self.run.days[-1])


def subjects_of(out: Any, h: History) -> list[Subject]:
    """Event-study subjects: the instruments (excess of cash, their history) then the strategies (run days)."""
    subs = [Subject(t, h.days, (h.returns[t] - h.rf).to_numpy(dtype=float), h.pit.astype(object).to_numpy())
            for t in h.returns.columns]
    run_pit = pit_labels(h.calendar, out.days).astype(object).to_numpy()
    rf = out.rf.reindex(out.days).fillna(0.0)
    for name in out.returns.columns:
        x = (out.returns[name] - rf).to_numpy(dtype=float)
        subs.append(Subject(name, pd.DatetimeIndex(out.days), x, run_pit))
    return subs


def claims_start(h: History) -> pd.Timestamp:
    """First day the claims count: the calendar's first regime's effective date."""
    return min(r.effective for r in h.calendar.regimes)


def build_evidence(out: Any, seed: int | None = None, draws: int = DRAWS, placebos: int = PLACEBOS,
                   block: float = BLOCK, level: float = LEVEL) -> EvidenceRun:
    """Claims, event studies, attribution and episodes of a run (see the module docstring).

    Parameters
    ----------
    out : backtest.pipeline.RunOutput
        The run (``run_backtest`` of the config).
    seed : int, optional
        Root seed (default: the config's ``seed``).
    draws : int
        Bootstrap draws (claims and attribution).
    placebos : int
        Placebo windows per event.
    block, level : float
        Mean block length (days) and two-sided level of the intervals.

    Returns
    -------
    EvidenceRun

    Raises
    ------
    ConfigError
        A config episode lies outside the run.
    """
    cfg = out.cfg
    seed = int(cfg.seed if seed is None else seed)
    timings: dict[str, float] = {}
    notes: list[str] = []
    t = time.perf_counter()
    episodes, ep_notes = episode_table(out.returns, out.labels["regime"].reindex(out.days),
                                       episode_list(cfg.episodes), out.origin)
    timings["episodes"] = time.perf_counter() - t
    t = time.perf_counter()
    h = load_history(cfg, evidence_tickers(cfg, list(out.md.prices.columns)), pd.Timestamp(out.days[-1]))
    timings["history"] = time.perf_counter() - t
    t = time.perf_counter()
    start = claims_start(h)
    claims, claim_notes = evaluate_claims(h, seed, start=start, draws=draws, block=block, level=level)
    timings["claims"] = time.perf_counter() - t
    t = time.perf_counter()
    events = calendar_events(h.calendar, h.days)
    ev, paths = event_study(subjects_of(out, h), events, seed, WINDOWS, placebos)
    timings["events"] = time.perf_counter() - t
    t = time.perf_counter()
    att = attribution_tables(out, seed, draws, block, level)
    timings["attribution"] = time.perf_counter() - t
    notes.extend(claim_notes)
    notes.extend(ep_notes)
    late = {t_: str(h.returns[t_].first_valid_index().date()) for t_ in h.returns.columns
            if h.returns[t_].first_valid_index() is not None and h.returns[t_].first_valid_index() > start}
    if late:
        notes.append("instruments starting after the claims' first day (their figures start then): "
                     + ", ".join(f"{k} {v}" for k, v in late.items()))
    no_p = int(ev["placebo_p"].isna().sum()) if len(ev) else 0
    if no_p:
        notes.append(f"{no_p} event row(s) without a placebo p-value: fewer than {MIN_POOL} earlier days of the "
                     "same regime kind (placebo windows must end before the event's window starts)")
    settings = {
        "seed": seed, "bootstrap": {"scheme": "stationary", "draws": draws, "mean_block_days": block,
                                    "level": level},
        "claims": {"first_day": str(start.date()), "min_episodes": MIN_EPISODES, "min_days": MIN_DAYS},
        "events": {"windows": [window_label(lo, hi) for lo, hi in WINDOWS],
                   "chart_window": window_label(*CHART_WINDOW), "placebos": placebos, "min_pool": MIN_POOL,
                   "calendar": "point in time (announced dates)", "n_events": len(events)},
        "attribution": {"linking": "Carino (1999)"},
    }
    return EvidenceRun(claims=claims, event_study=ev, event_paths=paths, attribution=att["attribution"],
                       attribution_sleeves=att["attribution_sleeves"], episodes=episodes, run=out, history=h,
                       seed=seed, settings=settings, notes=notes, timings=timings)


def finite_share(frame: pd.DataFrame, column: str) -> float:
    """Share of finite values of a column (for summaries)."""
    v = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float) if len(frame) else np.array([])
    return float(np.isfinite(v).mean()) if len(v) else float("nan")
