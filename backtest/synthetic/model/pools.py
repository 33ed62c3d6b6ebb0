"""Analogue pools without hindsight: ex-ante rules, calendar periods, no peeking.

A state's *pool* is the set of historical trading days its bootstrap draws from. Pools
are defined by rules over what was knowable on each day (:class:`RuleSpec`):

* the regime calendar (``configs/regimes/fed_balance_sheet.yaml``): the kind and id of
  the regime in force (by its effective date), the first/after-first ``N`` trading days
  of each regime, and whether it was announced on a stress day;
* the point-in-time signal frame (:func:`backtest.regimes.signals.liquidity_signals`):
  the ``stress`` overlay of the rules classifier (funding spread or VIX, with its
  hysteresis), the VIX close, and ``hiking`` (policy-rate upper target above its level
  63 trading days earlier).

Whole calendar periods (``{regime: RMP2019}``) are allowed too. Hand-written date ranges
(or a clipped period) stay possible as a user override; :func:`hand_written_warnings`
lists them so the command warns and provenance records them.

No peeking: :func:`clip_before` drops every pool day on or after a scenario's first
simulated day unless ``include_forecast_period`` is set.

Disjoint states: a history day belongs to at most one state's pool. The states' masks
are claimed in the order of the scenario file's ``precedence`` (default: the order of
``states``): a day several states select goes to the first of them. A *paced* state (the
calm RMP state the pace applies to) never holds a day on the *stress watch*: the rules
classifier's stress flag, or VIX at or above the level at which that flag would switch
off (``vix_exit`` of ``configs/regimes/rules.yaml``, 25): the days of a sell-off before
the flag is raised (2020-02-24..26: VIX 25..28) are not calm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.data.regime_calendar import load_calendar
from backtest.errors import RegimeError, ScenarioError
from backtest.regimes.rules import stress_overlay
from backtest.regimes.rules_params import load_rules_params
from backtest.regimes.signals import liquidity_signals
from backtest.synthetic.scenarios import Period, RuleSpec, ScenarioSet

HIKING_LOOKBACK = 63  # trading days (~3 months)
POOL_SIGNALS = ("stress", "vix", "hiking", "stress_watch")


def pool_signals(md, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Point-in-time signals the pool rules use, on ``days``.

    Parameters
    ----------
    md : MarketData
        Loaded history (macro series with release dates).
    days : pd.DatetimeIndex
        Trading days.

    Returns
    -------
    pd.DataFrame
        Index ``days``; columns ``stress`` (bool: the rules classifier's overlay, False
        where its inputs are missing), ``vix`` (float, NaN if missing), ``hiking``
        (float 1/0, NaN where the policy rate is unknown) and ``stress_watch`` (bool:
        ``stress``, or VIX at or above the overlay's ``vix_exit``). Day ``t`` uses data
        released by the close of ``t`` only.
    """

    days = pd.DatetimeIndex(days)
    sig = liquidity_signals(md, days)
    p = load_rules_params()
    stress = stress_overlay(sig, p.funding_enter, p.funding_exit, p.vix_enter, p.vix_exit, p.stress_min_days)
    vix = sig["vix"] if "vix" in sig else pd.Series(np.nan, index=days)
    if "policy_rate" in sig:
        rate = sig["policy_rate"].astype(float)
        prev = rate.shift(HIKING_LOOKBACK)
        hiking = (rate > prev).astype(float).where(rate.notna() & prev.notna())
    else:
        hiking = pd.Series(np.nan, index=days)
    vx = vix.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        watch = stress.to_numpy(dtype=bool) | (vx >= p.vix_exit)
    return pd.DataFrame({"stress": stress.to_numpy(dtype=bool), "vix": vx,
                         "hiking": hiking.to_numpy(dtype=float), "stress_watch": watch}, index=days)


def _need(signals: pd.DataFrame | None, col: str, where: str) -> np.ndarray:
    if signals is None or col not in signals:
        raise ScenarioError(f"{where}: the rule needs the point-in-time signal {col!r}, which the data do not give")
    return signals[col].to_numpy()


def rule_mask(rule: RuleSpec, days: pd.DatetimeIndex, cal, signals: pd.DataFrame | None,
              where: str = "rule") -> np.ndarray:
    """Boolean mask of ``days`` on which every condition of ``rule`` holds.

    Parameters
    ----------
    rule : RuleSpec
    days : pd.DatetimeIndex
        Trading days of the history.
    cal : RegimeCalendar
        The regime calendar (days are labelled by effective date).
    signals : pd.DataFrame, optional
        :func:`pool_signals` on ``days`` (needed by ``stress``, ``vix_*``, ``hiking``,
        ``announced_in_stress``).
    where : str
        Prefix of error messages.

    Returns
    -------
    np.ndarray of bool, shape (len(days),)
    """
    days = pd.DatetimeIndex(days)
    lab = cal.label(days, "effective")
    rid = lab["regime_id"].to_numpy()
    ok = np.ones(len(days), dtype=bool)
    if rule.regime_kind is not None:
        ok &= np.isin(lab["regime"].to_numpy(), list(rule.regime_kind))
    if rule.regime is not None:
        known = {r.id for r in cal.regimes}
        for r in rule.regime:
            if r not in known:
                raise ScenarioError(f"{where}: unknown regime id {r!r} (calendar: {', '.join(sorted(known))})")
        ok &= np.isin(rid, list(rule.regime))
    if rule.stress is not None:
        ok &= _need(signals, "stress", where).astype(bool) == rule.stress
    with np.errstate(invalid="ignore"):
        if rule.vix_below is not None:
            ok &= _need(signals, "vix", where).astype(float) < rule.vix_below
        if rule.vix_above is not None:
            ok &= _need(signals, "vix", where).astype(float) > rule.vix_above
        if rule.hiking is not None:
            h = _need(signals, "hiking", where).astype(float)
            ok &= (h == 1.0) if rule.hiking else (h == 0.0)
    if rule.first_days is not None or rule.after_first_days is not None or rule.announced_in_stress is not None:
        n_in = np.zeros(len(days), dtype=np.int64)  # 1-based position of the day inside its regime
        stress = None if rule.announced_in_stress is None else _need(signals, "stress", where).astype(bool)
        keep_reg = np.ones(len(days), dtype=bool)
        for r in cal.regimes:
            m = rid == r.id
            n_in[m] = np.arange(1, int(m.sum()) + 1)
            if stress is not None:
                at = days.searchsorted(r.announced, side="right") - 1  # last trading day on/before the announcement
                flagged = bool(at >= 0 and stress[at])
                if flagged != rule.announced_in_stress:
                    keep_reg[m] = False
        ok &= keep_reg & (n_in > 0)
        if rule.first_days is not None:
            ok &= n_in <= rule.first_days
        if rule.after_first_days is not None:
            ok &= n_in > rule.after_first_days
    return ok


def mask_periods(state: str, days: pd.DatetimeIndex, mask: np.ndarray, label: str) -> list[Period]:
    """Runs of consecutive trading days of ``mask`` as :class:`Period` objects."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    firsts = np.r_[idx[0], idx[breaks + 1]]
    lasts = np.r_[idx[breaks], idx[-1]]
    return [Period(state, days[a], days[b], label) for a, b in zip(firsts, lasts, strict=True)]


def resolve_analogues(sset: ScenarioSet, days: pd.DatetimeIndex, calendar_path: str | None = None,
                      need: np.ndarray | None = None, need_names: list[str] | None = None,
                      signals: pd.DataFrame | None = None, allow_empty: bool = False,
                      claims: dict[str, dict] | None = None,
                      forecast_from: pd.Timestamp | None = None) -> dict[str, list[Period]]:
    """Day ranges of every state's analogues, checked against the data and made disjoint.

    Parameters
    ----------
    sset : ScenarioSet
    days : pd.DatetimeIndex
        Trading days of the loaded history.
    calendar_path : str, optional
        Regime calendar (default: the file's ``calendar`` or the project calendar).
    need : np.ndarray of bool, shape (D, k), optional
        Which required inputs exist on each day; a day counts only when all do.
    need_names : list of str, optional
        Names of the ``need`` columns (for messages).
    signals : pd.DataFrame, optional
        :func:`pool_signals` on ``days`` (rules that use signals need it; its
        ``stress_watch`` column keeps stress days out of paced states).
    allow_empty : bool
        A rule that no day meets gives no period instead of an error (the parametric
        generator of the ``sample`` market draws states from the calibrated model, not
        from pools, so its synthetic signals need not reproduce every rule).
    claims : dict, optional
        Filled per state with ``selected`` (days its analogues select), ``lost_to``
        (state -> days claimed first by a state earlier in the precedence) and
        ``stress_watch`` (days removed from a paced state by the stress watch).
    forecast_from : pd.Timestamp, optional
        First day of the forecast period when ``days`` end before it (the history known
        at a scenario's ``t0``): a calendar period or date range that starts on or after
        it has no day here by the no-peeking rule and is dropped, not an error.

    Returns
    -------
    dict
        State -> list of :class:`Period` (one per run of consecutive days the state owns
        within each analogue). Every day is in at most one state's periods
        (module docstring: precedence, stress watch).

    Raises
    ------
    ScenarioError
        Unknown regime id, a rule needing a missing signal, an analogue without any
        usable trading day in the data (named, with the data's range or the missing
        input), or a state whose every usable day goes to states earlier in the
        precedence.
    """

    try:
        cal = load_calendar(calendar_path or sset.spec.calendar)
    except RegimeError as exc:
        raise ScenarioError(f"{sset.path}: calendar: {exc}") from None
    days = pd.DatetimeIndex(days)
    by_id = {r.id: r for r in cal.regimes}
    d0, d1 = (days[0].date(), days[-1].date()) if len(days) else (None, None)
    masks: dict[str, np.ndarray] = {}
    for sname, st in sset.spec.states.items():
        m = np.zeros(len(days), dtype=bool)
        for i, a in enumerate(st.analogues):
            if a.rule is not None:
                m |= rule_mask(a.rule, days, cal, signals, f"{sset.path}: states.{sname}.analogues[{i}]")
        masks[sname] = m
    inside_of: dict[str, list[tuple[str, np.ndarray]]] = {}
    for sname, st in sset.spec.states.items():
        parts = []
        for i, a in enumerate(st.analogues):
            where = f"{sset.path}: states.{sname}.analogues[{i}] ({a.label()})"
            if a.rule is not None:
                inside = rule_mask(a.rule, days, cal, signals, where)
                for x in a.rule.exclude_states:
                    inside &= ~masks[x]
                if not inside.any():
                    if allow_empty:
                        continue
                    raise ScenarioError(f"{where}: no trading day of the data ({d0}..{d1}) meets the rule")
                start, end = days[inside][0], days[inside][-1]
            elif a.regime is not None:
                if a.regime not in by_id:
                    raise ScenarioError(f"{where}: unknown regime id {a.regime!r} (calendar: {', '.join(by_id)})")
                r = by_id[a.regime]
                start, end = r.effective, r.end if r.end is not None else (days[-1] if len(days) else r.effective)
                if a.start is not None:
                    start = max(start, pd.Timestamp(a.start))
                if a.end is not None:
                    end = min(end, pd.Timestamp(a.end))
                inside = np.asarray((days >= start) & (days <= end))
            else:
                start, end = pd.Timestamp(a.start), pd.Timestamp(a.end)
                inside = np.asarray((days >= start) & (days <= end))
            if not inside.any() and forecast_from is not None and start >= forecast_from:
                continue  # in the forecast period: no peeking
            if not inside.any():
                raise ScenarioError(f"{where}: no trading day of the data in {start.date()}..{end.date()} "
                                    f"(data cover {d0}..{d1})")
            if need is not None:
                ok = need[inside]
                if not ok.all(axis=1).any():
                    miss = int(np.argmin(ok.sum(axis=0)))
                    what = need_names[miss] if need_names else f"input {miss}"
                    raise ScenarioError(f"{where}: no usable day in {start.date()}..{end.date()}: "
                                        f"{what} has no data there")
            parts.append((a.label(), inside))
        inside_of[sname] = parts
    usable = need.all(axis=1) if need is not None else np.ones(len(days), dtype=bool)
    watch = (signals["stress_watch"].to_numpy(dtype=bool) if signals is not None and "stress_watch" in signals
             else np.zeros(len(days), dtype=bool))
    paced = dict(zip(sset.states, sset.paced, strict=True))
    claimed = np.zeros(len(days), dtype=bool)
    owner = np.full(len(days), -1, dtype=np.int64)
    order = {s: i for i, s in enumerate(sset.states)}
    out: dict[str, list[Period]] = {}
    for sname in sset.precedence:
        selected = np.zeros(len(days), dtype=bool)
        for _, inside in inside_of[sname]:
            selected |= inside
        own = selected & ~claimed
        removed = own & watch if paced[sname] else np.zeros(len(days), dtype=bool)
        own &= ~removed
        if claims is not None:
            lost = selected & claimed
            claims[sname] = {"selected": int((selected & usable).sum()),
                             "lost_to": {s: int((lost & usable & (owner == order[s])).sum()) for s in sset.precedence
                                         if ((lost & usable & (owner == order[s])).any())},
                             "stress_watch": int((removed & usable).sum())}
        if selected.any() and not (own & usable).any() and not allow_empty:
            first = [s for s in sset.precedence[: sset.precedence.index(sname)]]
            why = (f"states earlier in the precedence ({', '.join(first)})" if (selected & claimed & usable).any()
                   else "") + (" and " if (selected & claimed & usable).any() and (removed & usable).any() else "") + (
                   "the stress watch (a paced state holds no stress day)" if (removed & usable).any() else "")
            raise ScenarioError(f"{sset.path}: states.{sname}: every usable day its analogues select goes to "
                                f"{why or 'other states'}")
        owner[own] = order[sname]
        claimed |= own
        periods: list[Period] = []
        for label, inside in inside_of[sname]:
            periods.extend(mask_periods(sname, days, inside & own, label))
        out[sname] = periods
    return {s: out[s] for s in sset.states}


def hand_written_warnings(sset: ScenarioSet) -> list[str]:
    """Warnings about the pools: one line for all hand-written date ranges (or clipped
    calendar periods), one if pools may use the forecast period; empty if neither."""
    out = []
    hand = [f"states.{sname}.analogues[{i}] ({a.label()})" for sname, st in sset.spec.states.items()
            for i, a in enumerate(st.analogues) if a.hand_written]
    if hand:
        out.append(f"{sset.path}: hand-written analogue dates, not ex-ante rules (their ends may sit on "
                   f"price turning points): {'; '.join(hand)}")
    if sset.spec.include_forecast_period:
        out.append(f"{sset.path}: pools include days on or after the scenario start (include_forecast_period)")
    return out


def clip_before(periods: list[Period], first_day: pd.Timestamp) -> list[Period]:
    """``periods`` cut to the days strictly before ``first_day`` (a scenario's first simulated day)."""
    out = []
    for p in periods:
        if p.start >= first_day:
            continue
        end = min(p.end, first_day - pd.Timedelta(days=1))
        out.append(Period(p.state, p.start, end, p.label))
    return out


__all__ = ["HIKING_LOOKBACK", "clip_before", "hand_written_warnings", "mask_periods", "pool_signals",
           "resolve_analogues", "rule_mask"]
