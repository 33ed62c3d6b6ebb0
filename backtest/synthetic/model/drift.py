"""State drifts: a state's mean daily return, raw, shrunk toward the unconditional mean, or demeaned.

A state's pool (its analogue days) has a mean daily excess return per asset, ``m_s``: a
noisy estimate (a few hundred days, a handful of episodes) that a bootstrap would
otherwise replay as if it were the state's true drift. The scenario file's
``drift.mode`` (or ``--drift``) sets the *target* mean ``μ_s`` of each state:

* ``raw``: ``μ_s = m_s`` (the pool's own mean, as drawn);
* ``demeaned``: ``μ_s = ū``, the unconditional mean over every usable history day up to
  the scenario's ``t0`` (no day after it: no peeking), so states differ only in
  volatility, correlation, tails and signals;
* ``shrunk`` (default): ``μ_s = w_s m_s + (1 - w_s) ū`` with the empirical-Bayes weight

  ``w_s = τ² / (τ² + 1 / n_eff,s)``

  in units of each state's daily volatility: ``z_{s,i} = (m_{s,i} - ū_i) / σ_{s,i}`` has
  sampling variance ``1 / n_eff,s``, and ``τ² = max(0, mean_{s,i} z² - mean_s 1/n_eff,s)``
  is the dispersion of the states' standardised means net of that noise (method of
  moments, pooled over assets; 0 when the states' means differ no more than noise would
  make them). One weight per state, the same for every asset.

  ``n_eff,s`` accounts for the dependence the bootstrap keeps (blocks of mean length
  ``b``): ``n_eff = n_s / max(1, 1 + 2 Σ_{k=1..L} (1 - k/(L+1)) ρ_k)``, ``L = round(b)``, with
  ``ρ_k`` the lag-``k`` autocorrelation of the pool's daily returns averaged over assets
  (Bartlett long-run variance over the block window; never more than ``n_s`` days). The
  parametric source draws independent days: ``n_eff = n_days`` of the calibration.

The bootstrap applies it by adding ``μ_s - m_s`` to every drawn day's returns of state
``s`` (each pool day is equally likely to be drawn, so the drawn mean becomes ``μ_s``);
the parametric source replaces its per-state means (pool = the calibration's raw mean
of the state's regime kind over its ``n_days``, ``ū`` = their day-weighted average).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from backtest.synthetic.scenarios import DRIFT_MODES

__all__ = ["DRIFT_MODES", "StateDrifts", "bootstrap_drifts", "drift_line", "drift_provenance", "drift_source",
           "effective_days", "mean_z2", "parametric_drifts", "shrink_weights", "state_drifts"]

RULE = ("w_s = tau2 / (tau2 + 1/n_eff_s); n_eff_s = pool days / max(1, Bartlett long-run variance factor of the "
        "pool's returns over the mean block length); tau2 = max(0, mean over states and assets of ((pool mean - "
        "unconditional mean) / state vol)^2 - mean over states of 1/n_eff_s)")


@dataclass(frozen=True)
class StateDrifts:
    """Target mean daily (excess) return of each state and how it was set.

    Attributes
    ----------
    mode : str
        ``raw``, ``shrunk`` or ``demeaned``.
    target, pool_mean : np.ndarray, shape (S, N)
        Target mean and the pool's own mean.
    uncond : np.ndarray, shape (N,)
        Unconditional mean.
    weight : np.ndarray, shape (S,)
        Weight of the pool's mean in the target (raw: 1, demeaned: 0).
    n_days, n_eff : np.ndarray, shape (S,)
        Pool days and effective independent observations.
    tau2 : float
        Cross-state dispersion of standardised means net of noise (shrunk mode).
    z2, noise : float
        Mean squared standardised deviation of the pool means from the unconditional
        mean, and the mean sampling variance ``1 / n_eff`` it is compared with.
    """

    mode: str
    target: np.ndarray
    pool_mean: np.ndarray
    uncond: np.ndarray
    weight: np.ndarray
    n_days: np.ndarray
    n_eff: np.ndarray
    tau2: float
    z2: float = float("nan")
    noise: float = float("nan")
    span: str = ""
    """The days the unconditional mean averages (``first..last``, or the parametric calibration)."""

    @property
    def shift(self) -> np.ndarray:
        """Daily return added to every drawn day of each state, shape (S, N)."""
        return self.target - self.pool_mean


def shrink_weights(pool_mean: np.ndarray, pool_sd: np.ndarray, uncond: np.ndarray,
                   n_eff: np.ndarray) -> tuple[np.ndarray, float]:
    """Empirical-Bayes weight of each state's own mean (see the module docstring).

    Parameters
    ----------
    pool_mean, pool_sd : np.ndarray, shape (S, N)
        Mean and standard deviation of each state's daily returns.
    uncond : np.ndarray, shape (N,)
    n_eff : np.ndarray, shape (S,)

    Returns
    -------
    (np.ndarray, float)
        Weights ``w_s`` in [0, 1) and ``τ²``.
    """
    noise = 1.0 / np.asarray(n_eff, dtype=float)
    tau2 = max(0.0, mean_z2(pool_mean, pool_sd, uncond) - float(noise.mean()))
    w = tau2 / (tau2 + noise) if tau2 > 0 else np.zeros_like(noise)
    return w, tau2


def mean_z2(pool_mean: np.ndarray, pool_sd: np.ndarray, uncond: np.ndarray) -> float:
    """Mean squared standardised distance of the states' means from the unconditional mean (0 if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.asarray(pool_mean) - np.asarray(uncond)[None, :]) / np.where(np.asarray(pool_sd) > 0, pool_sd, np.nan)
    return float(np.nanmean(z**2)) if np.isfinite(z).any() else 0.0


def effective_days(x: np.ndarray, lags: int) -> float:
    """Effective independent days of a pool's returns (see the module docstring).

    Parameters
    ----------
    x : np.ndarray, shape (n, N)
        Daily returns of the pool days, in order.
    lags : int
        Bartlett window (the bootstrap's mean block length).
    """
    n = len(x)
    if n < 3 or lags < 1:
        return float(max(n, 1))
    xc = x - x.mean(axis=0)
    var = (xc * xc).sum(axis=0)
    ok = var > 0
    if not ok.any():
        return float(n)
    xc, var = xc[:, ok], var[ok]
    factor = 1.0
    for k in range(1, min(lags, n - 1) + 1):
        rho = float(np.mean((xc[k:] * xc[:-k]).sum(axis=0) / var))
        factor += 2.0 * (1.0 - k / (lags + 1.0)) * rho
    return float(n / max(1.0, factor))


def state_drifts(mode: str, pool_mean: np.ndarray, pool_sd: np.ndarray, uncond: np.ndarray,
                 n_days: np.ndarray, n_eff: np.ndarray) -> StateDrifts:
    """Target means of ``mode`` from pool statistics (see the module docstring).

    Parameters
    ----------
    mode : {"raw", "shrunk", "demeaned"}
    pool_mean, pool_sd : np.ndarray, shape (S, N)
    uncond : np.ndarray, shape (N,)
    n_days, n_eff : np.ndarray, shape (S,)
        Pool days and effective independent days.
    """
    if mode not in DRIFT_MODES:
        raise ValueError(f"unknown drift mode {mode!r}")
    pool_mean = np.asarray(pool_mean, dtype=float)
    uncond = np.asarray(uncond, dtype=float)
    n_days = np.asarray(n_days, dtype=float)
    n_eff = np.maximum(1.0, np.asarray(n_eff, dtype=float))
    tau2 = 0.0
    if mode == "raw":
        w = np.ones(len(pool_mean))
    elif mode == "demeaned":
        w = np.zeros(len(pool_mean))
    else:
        w, tau2 = shrink_weights(pool_mean, pool_sd, uncond, n_eff)
    target = w[:, None] * pool_mean + (1.0 - w[:, None]) * uncond[None, :]
    z2 = mean_z2(pool_mean, pool_sd, uncond)
    return StateDrifts(mode, target, pool_mean, uncond, w, n_days, n_eff, tau2, z2, float(np.mean(1.0 / n_eff)))


def bootstrap_drifts(mode: str, excess: np.ndarray, pool_days: Sequence[np.ndarray], uncond_rows: np.ndarray,
                     mean_block: float) -> StateDrifts:
    """Drifts of the bootstrap source.

    Parameters
    ----------
    mode : str
    excess : np.ndarray, shape (D, N)
        Daily returns in excess of the day's bill rate (history rows).
    pool_days : sequence of np.ndarray
        History rows of each state's pool.
    uncond_rows : np.ndarray
        History rows of the unconditional mean (usable days up to ``t0``).
    mean_block : float
    """
    mean = np.array([excess[d].mean(axis=0) for d in pool_days])
    sd = np.array([excess[d].std(axis=0, ddof=1) if len(d) > 1 else np.zeros(excess.shape[1]) for d in pool_days])
    uncond = excess[uncond_rows].mean(axis=0) if len(uncond_rows) else mean.mean(axis=0)
    n = np.array([len(d) for d in pool_days], dtype=float)
    n_eff = np.array([effective_days(excess[d], int(round(mean_block))) for d in pool_days])
    return state_drifts(mode, mean, sd, uncond, n, n_eff)


def parametric_drifts(mode: str, calib: Mapping, kinds: Sequence[str]) -> StateDrifts:
    """Drifts of the parametric source over the calibration's asset columns.

    Pool of a state = its regime kind's calibration (``mean_raw``, ``vol``, ``n_days``);
    the unconditional mean is the day-weighted average over all calibrated kinds.
    """
    reg = calib["joint"]["regimes"]
    n_a = len(calib["assets"]["tickers"])
    raw = {k: np.asarray(r["mean_raw"], dtype=float)[:n_a] for k, r in reg.items()}
    days = {k: float(r["n_days"]) for k, r in reg.items()}
    uncond = sum(raw[k] * days[k] for k in raw) / sum(days.values())
    mean = np.array([raw[k] for k in kinds])
    sd = np.array([np.asarray(reg[k]["vol"], dtype=float)[:n_a] for k in kinds])
    n = np.array([days[k] for k in kinds])
    return state_drifts(mode, mean, sd, uncond, n, n)


def drift_provenance(states: Sequence[str], drifts: Mapping[str, StateDrifts | None],
                     tickers: Sequence[str]) -> dict:
    """JSON record: mode, rule and per-scenario, per-state weights (and SPY's daily means, if simulated)."""
    first = next((d for d in drifts.values() if d is not None), None)
    if first is None:
        return {"mode": None}
    out: dict = {"mode": first.mode, "rule": RULE if first.mode == "shrunk" else first.mode,
                 "weights": {}, "tau2": {}, "n_eff": {}}
    spy = list(tickers).index("SPY") if "SPY" in tickers and first.target.shape[1] == len(tickers) else None
    if spy is not None:
        out["spy_daily_mean"] = {}
    for name, d in drifts.items():
        if d is None:
            continue
        out["weights"][name] = {s: round(float(w), 6) for s, w in zip(states, d.weight, strict=True)}
        out["tau2"][name] = {"tau2": round(float(d.tau2), 8), "mean_z2": round(d.z2, 8),
                             "mean_noise": round(d.noise, 8)}
        out["n_eff"][name] = {s: round(float(n), 2) for s, n in zip(states, d.n_eff, strict=True)}
        if spy is not None:
            out["spy_daily_mean"][name] = {
                "unconditional": round(float(d.uncond[spy]), 8),
                **{s: {"pool": round(float(d.pool_mean[i, spy]), 8), "target": round(float(d.target[i, spy]), 8)}
                   for i, s in enumerate(states)}}
    return out


def drift_source(states: Sequence[str], d: StateDrifts | None, tickers: Sequence[str]) -> str | None:
    """One sentence when states are left at the unconditional drift (weight 0), with the drift used.

    Parameters
    ----------
    states : sequence of str
    d : StateDrifts or None
    tickers : sequence of str
        Assets of ``d``'s columns (SPY and IEF are quoted when simulated, else the first;
        empty: no asset is quoted).

    Returns
    -------
    str or None
        None when every state keeps some of its own pool's mean (or there are no drifts).
    """
    if d is None:
        return None
    at = [s for s, w in zip(states, d.weight, strict=True) if w == 0]
    if not at:
        return None
    which = "every state" if len(at) == len(states) else ", ".join(at)
    verb = "drifts" if len(at) == 1 or which == "every state" else "drift"
    cols = list(tickers)
    shown = [t for t in ("SPY", "IEF") if t in cols] or cols[:1]
    per = (", ".join(f"{t} {d.uncond[cols.index(t)] * 252:+.1%}/yr" for t in shown)
           if cols and len(d.uncond) == len(cols) else "the calibration's mean per asset")
    why = {"demeaned": "the drift mode is demeaned",
           "shrunk": "its shrink weight is 0" if len(at) == 1 else "their shrink weights are 0"}.get(d.mode, "")
    days = f" of {d.span}" if d.span else ""
    return (f"Where the medians come from: {which} {verb} at the unconditional mean{days} ({why}), "
            f"in excess of the bill rate {per}; the states differ in volatility, tails, correlations and signals, "
            f"not in drift.")


def drift_line(states: Sequence[str], d: StateDrifts | None) -> str:
    """One terminal line: the drift mode and the weight of each state's own mean."""
    if d is None:
        return "drift: n/a"
    if d.mode == "raw":
        return "drift: raw (each state's pool mean, unshrunk)"
    if d.mode == "demeaned":
        return "drift: demeaned (every state has the unconditional mean up to the start)"
    ws = ", ".join(f"{s} {w:.2f}" for s, w in zip(states, d.weight, strict=True))
    why = (f" (state means differ no more than noise: mean z^2 {d.z2:.4f} <= mean 1/n_eff {d.noise:.4f})"
           if d.tau2 == 0 else "")
    return f"drift: shrunk toward the unconditional mean, weight per state (of its own pool mean) {ws}{why}"
