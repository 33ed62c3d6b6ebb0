#!/usr/bin/env python
"""Calibrate the built-in ``sample`` market from the real data set (deterministic).

Usage::

    python scripts/calibrate_sample.py --data-dir ../shared/data \\
        --out backtest/data/sample_calibration.json

Reads the shared data (read-only; env ``RMPBT_SHARED_DATA`` is the default folder) and
writes a small JSON of per-regime parameters for :mod:`backtest.data.market_model`.
No prices are stored, only derived statistics, the trading calendar as its list of
weekday non-trading days, and real start levels.

What is estimated (trading days 2008-01-02 … 2026-07-13, effective-date regime labels):

* Days labelled ``PRE`` (before QE1, i.e. 2008-01-02 … 2008-11-28, including the Lehman
  crash and the emergency-lending balance-sheet surge) belong to no calendar regime and
  are excluded from every estimate; ``GAP`` days count as ``plateau``.
* Joint draw per regime kind: daily simple returns of every asset (from each ticker's
  first date) and five macro innovations (AR(1) residuals: Δlog VIX, Δlog(VIX3M/VIX),
  ΔDGS2 bp, ΔDGS10 bp, Δ(SOFR − admin rate) bp). Asset means are shrunk toward the
  all-regime mean with a prior weight of ``MEAN_PRIOR_DAYS`` days (short regimes such as
  ``rmp``, 248 days, otherwise carry one crash as a "regime mean"); innovation means are
  zero. Vols: sample std, except the SOFR spread innovation whose std is 1.4826·MAD
  (robust: a handful of repo-stress days, e.g. 2019-09-17, would otherwise set the
  everyday vol; the Student-t tails supply the spikes). Correlations: pairwise-complete,
  made PSD by eigenvalue clipping. Degrees of freedom: ``4 + 6/κ`` clipped to [3, 30],
  κ = median over the columns of the excess kurtosis (a common mixing variable gives all
  marginals the same kurtosis; the median ignores single-event columns like SVXY in
  Feb-2018).
* Levels: AR(1) toward per-regime means, one pooled ``phi`` per series (OLS on deviations
  from the regime mean), per-regime residual std. Yield half-lives are clipped to
  [63, 252] trading days so yields follow the regime levels within a regime's life.
  Floors: log VIX at log(0.95 · min VIX), yields at half their 2008+ minimum, RRP at 0,
  TGA at its 2008+ minimum.
  The administered rate for the SOFR spread is IORB, or DFEDTARU − 0.10 before IORB
  exists (2021-07-29).
* Balance sheet (WALCL, TREAST, WRESBAL): weekly log-growth mean = mean weekly log
  change over the regime kind's weeks (= total growth / weeks, so the bursts at regime
  starts count); vol = std(13-week log change)/sqrt(13) and correlation of the 13-week
  changes, over windows whose first and last Wednesday carry the same regime kind (the
  persistent, not the week-to-week, variation). Start levels are those of 2008-12-03
  (first H.4.1 week of the first regime, QE1): the autumn-2008 emergency-lending surge
  (0.9 → 2.1 tn) is not a calendar regime and is not modelled.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.config import DEFAULT_MACRO, DEFAULT_UNIVERSE
from backtest.data.csv_source import CsvSource
from backtest.data.market_model import (
    BALANCE_SHEET,
    JOINT_MACRO,
    REGIME_KINDS,
    clip_psd_corr,
    dof_from_excess_kurtosis,
)
from backtest.data.regime_calendar import load_calendar

START = pd.Timestamp("2008-01-02")
END = pd.Timestamp("2026-07-13")
TICKERS = [*DEFAULT_UNIVERSE, "XLK", "VXX"]
MACRO = [*DEFAULT_MACRO, "DFF"]
OUTPUT_MACRO = [m for m in MACRO if m != "DFF"]
MEAN_PRIOR_DAYS = 250
YIELD_HALF_LIFE = (63.0, 252.0)
IORB_MINUS_TOP = -0.10
POLICY_X0 = 4.25  # FOMC target on 2008-01-02 (DFEDTAR is not in the data set; DFF ≈ 4.1-4.3)
SIG = 8  # significant digits stored


def _labels(dates: pd.DatetimeIndex) -> np.ndarray:
    """Regime-kind codes of ``dates`` (effective labels); -1 for ``PRE`` days."""
    lab = load_calendar().label(dates, by="effective")
    codes = np.array([REGIME_KINDS.index(k) for k in lab["regime"]])
    codes[(lab["regime_id"] == "PRE").to_numpy()] = -1
    return codes


def _ar_fit(x: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-regime means, pooled phi and residuals of ``x_t - m = phi (x_{t-1} - m) + e_t``.

    The regime mean ``m`` is that of day ``t``; pairs with a missing value or an excluded
    day are skipped (residual NaN).
    """
    x = np.asarray(x, dtype=float)
    means = np.array(
        [
            np.nanmean(x[codes == k]) if np.any((codes == k) & np.isfinite(x)) else np.nan
            for k in range(len(REGIME_KINDS))
        ]
    )
    m = np.where(codes >= 0, means[np.clip(codes, 0, None)], np.nan)
    a = x[1:] - m[1:]
    b = x[:-1] - m[1:]
    ok = np.isfinite(a) & np.isfinite(b)
    phi = float(np.sum(a[ok] * b[ok]) / np.sum(b[ok] ** 2))
    resid = np.full(len(x), np.nan)
    resid[1:] = a - phi * b
    return means, phi, resid


def _resid(x: np.ndarray, codes: np.ndarray, means: np.ndarray, phi: float) -> np.ndarray:
    m = np.where(codes >= 0, means[np.clip(codes, 0, None)], np.nan)
    out = np.full(len(x), np.nan)
    out[1:] = (x[1:] - m[1:]) - phi * (x[:-1] - m[1:])
    return out


def _by_kind(values: np.ndarray) -> dict[str, float]:
    return {k: float(values[i]) for i, k in enumerate(REGIME_KINDS)}


def _sd_by_kind(resid: np.ndarray, codes: np.ndarray) -> dict[str, float]:
    return {k: float(np.nanstd(resid[codes == i], ddof=1)) for i, k in enumerate(REGIME_KINDS)}


def _robust_sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _level_spec(
    x: np.ndarray,
    codes: np.ndarray,
    x0: float | None,
    *,
    half_life: tuple[float, float] | None = None,
    **extra: object,
) -> tuple[dict, np.ndarray]:
    means, phi, resid = _ar_fit(x, codes)
    ols_hl = math.log(2) / -math.log(phi) if 0 < phi < 1 else math.inf
    spec: dict = {}
    if half_life is not None:
        hl = min(max(ols_hl, half_life[0]), half_life[1])
        phi = 0.5 ** (1.0 / hl)
        resid = _resid(x, codes, means, phi)
        spec["half_life_days_ols"] = ols_hl
    if x0 is None:  # series not observed at the start: its plateau mean (2008 is plateau)
        x0 = float(means[REGIME_KINDS.index("plateau")])
    spec.update({"phi": phi, "mean": _by_kind(means), "sd": _sd_by_kind(resid, codes), "x0": x0})
    spec.update(extra)
    return spec, resid


def _joint(returns: pd.DataFrame, innov: pd.DataFrame, codes: np.ndarray) -> dict:
    cols = list(returns.columns) + list(innov.columns)
    data = pd.concat([returns, innov], axis=1)[cols]
    valid = codes >= 0
    pooled_mean = returns[valid].mean()
    out: dict = {}
    for i, k in enumerate(REGIME_KINDS):
        d = data[codes == i]
        n = d.notna().sum()
        raw = d.mean()
        mean = raw.copy()
        ra = returns.columns
        mean[ra] = (n[ra] * raw[ra] + MEAN_PRIOR_DAYS * pooled_mean[ra]) / (n[ra] + MEAN_PRIOR_DAYS)
        mean[list(innov.columns)] = 0.0
        vol = d.std(ddof=1)
        vol["sofr_spread"] = _robust_sd(d["sofr_spread"].to_numpy())
        corr = clip_psd_corr(d.corr(min_periods=20).fillna(0.0).to_numpy())
        kurt = d.kurt()
        kappa = float(np.median(kurt.to_numpy()))
        out[k] = {
            "n_days": int(len(d)),
            "n_obs": [int(v) for v in n],
            "mean": [float(v) for v in mean],
            "mean_raw": [float(v) for v in raw],
            "vol": [float(v) for v in vol],
            "corr": corr.tolist(),
            "excess_kurtosis": [float(v) for v in kurt],
            "excess_kurtosis_median": kappa,
            "dof": dof_from_excess_kurtosis(kappa),
        }
    return {
        "columns": cols,
        "units": "asset columns: daily simple return; vix, term: daily change of log level; dgs2, dgs10, sofr_spread: bp",
        "mean_prior_days": MEAN_PRIOR_DAYS,
        "regimes": out,
    }


def calibrate(data_dir: Path) -> dict:
    """Compute the calibration dict from the shared data folder."""
    src = CsvSource(data_dir)
    md = src.load(TICKERS, MACRO, START - pd.Timedelta(days=40), END)
    prices = md.prices
    days = prices.index[(prices.index >= START) & (prices.index <= END)]
    weekday_holidays = pd.bdate_range(START, END).difference(days)
    codes = _labels(days)

    def daily(name: str) -> pd.Series:
        return md.macro[name].values.reindex(days)

    # Asset returns on the trading days (first return of a ticker = its 2nd day).
    returns = prices.pct_change(fill_method=None).reindex(days)
    first = prices.apply(lambda s: s.first_valid_index())
    first_dates = {t: max(first[t], START) for t in TICKERS}
    start_prices = {t: float(prices.loc[first_dates[t], t]) for t in TICKERS}

    # Level processes (daily).
    vix, v3 = daily("VIX"), daily("VIX3M")
    dgs2, dgs10 = daily("DGS2"), daily("DGS10")
    top, iorb, sofr = daily("DFEDTARU"), daily("IORB"), daily("SOFR")
    admin = iorb.where(iorb.notna(), top + IORB_MINUS_TOP)
    dtb3, dgs3mo = daily("DTB3"), daily("DGS3MO")
    rrp = daily("RRPONTSYD").fillna(0.0)  # blank = no operation
    x0 = {
        n: float(v)
        for n, v in [
            ("VIX", vix.iloc[0]),
            ("DGS2", dgs2.iloc[0]),
            ("DGS10", dgs10.iloc[0]),
            ("DTB3", dtb3.iloc[0]),
            ("DGS3MO", dgs3mo.iloc[0]),
        ]
    }
    first_v3 = v3.first_valid_index()
    levels: dict = {}
    resid: dict[str, np.ndarray] = {}
    levels["vix"], resid["vix"] = _level_spec(
        np.log(vix.to_numpy()),
        codes,
        math.log(x0["VIX"]),
        floor=math.log(0.95 * float(vix.min())),
        transform="log VIX",
    )
    term = np.log((v3 / vix).to_numpy())
    levels["term"], resid["term"] = _level_spec(
        term,
        codes,
        float(np.nanmean(term[(days >= first_v3) & (days < first_v3 + pd.Timedelta(days=90))])),
        transform="log(VIX3M/VIX)",
    )
    for name, s in (("dgs2", dgs2), ("dgs10", dgs10)):
        floor = round(max(0.01, 0.5 * float(s.min())), 2)
        levels[name], r = _level_spec(
            s.to_numpy(),
            codes,
            x0[name.upper()],
            half_life=YIELD_HALF_LIFE,
            floor=floor,
            units="percent",
        )
        resid[name] = r * 100.0
    spread = (sofr - admin).to_numpy()
    levels["sofr_spread"], r = _level_spec(
        spread, codes, None, units="percent, SOFR - (IORB or DFEDTARU - 0.10)"
    )
    resid["sofr_spread"] = r * 100.0
    # Independent (non-joint) level noises.
    bill = (top - dtb3).to_numpy()
    levels["bill_spread"], _ = _level_spec(
        bill, codes, round(POLICY_X0 - x0["DTB3"], 4), units="percent, DFEDTARU - DTB3"
    )
    cm = (dgs3mo - dtb3).to_numpy()
    levels["cm_spread"], _ = _level_spec(
        cm, codes, round(x0["DGS3MO"] - x0["DTB3"], 4), units="percent, DGS3MO - DTB3"
    )
    levels["rrp"], _ = _level_spec(
        rrp.to_numpy(), codes, float(rrp.iloc[0]), floor=0.0, units="billions USD"
    )

    # Weekly H.4.1 series (Wednesdays).
    weds = md.macro["WALCL"].values.index
    weds = weds[(weds >= START) & (weds <= END)]
    cw = _labels(weds)
    tga = md.macro["WDTGAL"].values.reindex(weds)
    levels["tga"], _ = _level_spec(
        tga.to_numpy(),
        cw,
        float(tga.iloc[0]),
        floor=float(round(tga.min(), -3)),
        units="millions USD, Wednesday level",
    )
    bs_lv = pd.DataFrame({n: md.macro[n].values.reindex(weds) for n in BALANCE_SHEET})
    g1 = np.log(bs_lv).diff()
    g13 = np.log(bs_lv).diff(13)
    same = (cw >= 0) & (np.roll(cw, 13) == cw)
    same[:13] = False
    bs_mean, bs_vol, bs_corr, bs_n = {}, {}, {}, {}
    for i, k in enumerate(REGIME_KINDS):
        g = g13[same & (cw == i)]
        bs_n[k] = int(len(g))
        bs_mean[k] = [float(v) for v in g1[cw == i].mean()]
        bs_vol[k] = [float(v) for v in g.std(ddof=1) / math.sqrt(13.0)]
        bs_corr[k] = clip_psd_corr(g.corr().to_numpy()).tolist()
    qe1 = weds[cw >= 0][0]
    share = {
        n: float(math.ceil(100 * (bs_lv[n] / bs_lv["WALCL"])[weds >= qe1].max()) / 100)
        for n in ("TREAST", "WRESBAL")
    }

    # Monthly CPI: AR(1) of the year-on-year inflation rate.
    cpi = md.macro["CPIAUCSL"].values
    yoy = cpi / cpi.shift(12) - 1.0
    months = cpi.index[(cpi.index >= START.to_period("M").to_timestamp()) & (cpi.index <= END)]
    levels["cpi_yoy"], _ = _level_spec(
        yoy.reindex(months).to_numpy(),
        _labels(months),
        float(yoy.loc[months[0]]),
        units="fraction per year",
    )

    innov = pd.DataFrame({k: resid[k] for k in JOINT_MACRO}, index=days)
    joint = _joint(returns[TICKERS], innov, codes)

    offset = (top - dgs2).to_numpy()
    off = {k: float(np.nanmean(offset[codes == i])) for i, k in enumerate(REGIME_KINDS)}
    macro_first = {}
    for n in OUTPUT_MACRO:
        fv = md.macro[n].values.index[0]
        if fv > START:
            macro_first[n] = fv.date().isoformat()
    return {
        "schema": "rmpbt.sample_calibration/1",
        "generated_by": "scripts/calibrate_sample.py",
        "description": (
            "Per-regime parameters of the synthetic 'sample' market, estimated from the shared real data "
            "(Yahoo adjusted closes, CBOE VIX/VIX3M, FRED) on trading days 2008-01-02..2026-07-13 with "
            "effective-date regime labels; PRE days (before QE1) excluded. See the script's docstring."
        ),
        "regime_kinds": list(REGIME_KINDS),
        "regime_days": {k: int(np.sum(codes == i)) for i, k in enumerate(REGIME_KINDS)},
        "calendar": {
            "start": days[0].date().isoformat(),
            "end": days[-1].date().isoformat(),
            "n_days": int(len(days)),
            "weekday_holidays": [d.date().isoformat() for d in weekday_holidays],
        },
        "assets": {
            "tickers": TICKERS,
            "first_dates": {t: d.date().isoformat() for t, d in first_dates.items()},
            "start_prices": start_prices,
            "min_return": -0.95,
        },
        "joint": joint,
        "levels": levels,
        "policy": {
            "x0": POLICY_X0,
            "step": 0.25,
            "floor": 0.25,
            "meeting_every_days": 32,
            "max_steps": 3,
            "deadband_steps": 0.75,
            "offset": off,
            "iorb_minus_top": IORB_MINUS_TOP,
            "note": "offset = mean(DFEDTARU - DGS2) per regime (from 2008-12-16)",
        },
        "balance_sheet": {
            "series": list(BALANCE_SHEET),
            "start_date": qe1.date().isoformat(),
            "start": {n: float(bs_lv.loc[qe1, n]) for n in BALANCE_SHEET},
            "weekly_mean": bs_mean,
            "weekly_vol": bs_vol,
            "corr": bs_corr,
            "n_windows": bs_n,
            "max_share_of_walcl": share,
        },
        "cpi": {"x0": float(cpi.loc[months[0]]), "start": months[0].date().isoformat()},
        "macro": {
            "series": OUTPUT_MACRO,
            "first_dates": macro_first,
            "frequency": {
                **{n: "daily" for n in OUTPUT_MACRO},
                **{n: "weekly (Wednesday)" for n in ("WALCL", "WRESBAL", "TREAST", "WDTGAL")},
                "CPIAUCSL": "monthly (1st)",
            },
        },
    }


def _round(obj: object) -> object:
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("non-finite value in calibration")
        return float(f"{obj:.{SIG}g}") if obj != 0 else 0.0
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    return obj


def dumps(obj: object, indent: int = 0) -> str:
    """JSON with dicts indented and lists of scalars on one line."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}  {json.dumps(k)}: {dumps(v, indent + 2)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
        items = [f"{pad}  {dumps(v, indent + 2)}" for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("RMPBT_SHARED_DATA", "../shared/data"))
    ap.add_argument("--out", default="backtest/data/sample_calibration.json")
    args = ap.parse_args(argv)
    calib = _round(calibrate(Path(args.data_dir)))
    text = dumps(calib) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
