"""Sections of the scenario page about the model itself: pools, their sensitivity, the channels.

Read from the run folder (``pool_table.csv``, ``pool_sensitivity.csv``,
``channel_effect.csv``, ``choice_separation.csv``) and the sentences
``provenance.json`` stores (:mod:`backtest.synthetic.model_record`), so the page says
what the terminal said:

* where the medians come from (states left at the unconditional drift);
* whether the scenarios separate the robust choice from the others (amber when not);
* the per-state pool table beside realised history in each state's regime kind;
* the leave-one-episode-out table (one row per rerun);
* the liquidity channel: its neutral pace beside the scenarios' paces, and its total
  effect (on vs off, same paths) with intervals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backtest.report.html import esc, frame_table_html

__all__ = ["VERDICT_STYLE", "channel_html", "medians_html", "pools_html", "sensitivity_html", "separation_html"]

VERDICT_STYLE = {"good": "background:#e3f4e6;border-left:4px solid #2e7d32",
                 "neutral": "background:#fff6dc;border-left:4px solid #b58100",
                 "bad": "background:#fde7e7;border-left:4px solid #c62828"}


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    f = Path(folder) / name
    return pd.read_csv(f) if f.exists() else None


def _truth(s: pd.Series) -> np.ndarray:
    return s.astype(str).str.lower().isin(["true", "1", "yes"]).to_numpy()


def medians_html(prov: dict) -> str:
    """The drift sentence (empty when every state keeps some of its own drift)."""
    text = prov.get("medians_from")
    return f'<p class="meta"><b>{esc(text)}</b></p>' if text else ""


def separation_html(prov: dict) -> str:
    """Whether the scenarios separate the robust choice, coloured (amber: they cannot)."""
    text = (prov.get("separation") or {}).get("sentence")
    if not text:
        return ""
    tone = "neutral" if text.startswith("The scenarios cannot") else "good"
    return f'<p class="verdict verdict-{tone}" style="{VERDICT_STYLE[tone]};padding:6px 10px">{esc(text)}</p>'


def pools_html(folder: Path, prov: dict) -> str | None:
    """The per-state pool table, with the precedence and the stress watch stated."""
    df = _read(folder, "pool_table.csv")
    if df is None or df.empty:
        return None
    pools = prov.get("pools") or {}
    asset = str(df["asset"].iloc[0])
    show = pd.DataFrame({
        "state": df["state"], "kind": df["kind"], "paced": df["paced"].astype(str), "precedence": df["precedence"],
        "rule days": df["rule_days"], "lost to earlier states": df["lost_to_precedence"].fillna(""),
        "stress watch removed": df["stress_watch_removed"], "pool days": df["pool_days"],
        "episodes": df["episodes"], "n_eff": df["n_eff"],
        f"{asset} mean return (pool)": df["pool_mean"], f"{asset} vol (pool)": df["pool_vol"],
        f"{asset} drift return simulated": df["sim_drift"],
        "days of the kind": df["kind_days"], "n_eff (kind)": df["kind_n_eff"],
        f"{asset} mean return (kind)": df["kind_mean"], f"{asset} vol (kind)": df["kind_vol"],
    })
    lead = (f"<p>Each history day belongs to at most one state's pool: states claim days in the order "
            f"<b>{esc(' > '.join(pools.get('precedence') or []))}</b>; {esc(pools.get('stress_watch', ''))}. "
            f"Per state: the pool it draws from, and realised history in its regime kind (every usable day up to "
            f"the start the regime calendar labels with that kind). Means are annualised daily returns in excess of "
            f"the bill rate; vol = daily standard deviation x sqrt(252); n_eff = effective independent days over the "
            f"bootstrap's blocks; 'drift return simulated' is the state's target after the drift mode.</p>")
    return lead + frame_table_html(show, "pool-table")


def sensitivity_html(folder: Path, prov: dict) -> str | None:
    """One row per leave-one-episode-out rerun: the choice without it and the largest moves."""
    df = _read(folder, "pool_sensitivity.csv")
    info = prov.get("pool_sensitivity") or {}
    if df is None or info is None:
        return None
    lines = "".join(f"<li>{esc(x)}</li>" for x in info.get("lines") or [])
    lead = (f"<p>For every state and every episode of its pool ({esc(info.get('episodes', ''))}), the scenarios "
            f"are simulated again without that episode, on the same seed, on {int(info.get('paths') or 0)} paths "
            f"per scenario (the baseline is the main run's first {int(info.get('paths') or 0)} paths; only paths "
            f"that visit the state are simulated again). Changes are in the probability-weighted mix.</p>"
            f"<ul>{lines}</ul>")
    if df.empty:
        return lead
    rows = []
    for (state, ep), g in df.groupby(["state", "episode"], sort=False):
        base = str(g["choice_base"].iloc[0])
        b = g.set_index("strategy")
        dm = g.loc[g["d_median"].abs().idxmax()]
        dc = g.loc[g["d_cvar5"].abs().idxmax()]
        rows.append({
            "state": state, "episode left out": ep, "days": int(g["days"].iloc[0]),
            "paths rerun": int(g["rerun_paths"].iloc[0]), "robust choice without it": str(g["choice_without"].iloc[0]),
            "choice trails by (max-regret return)": float(g["choice_gap"].iloc[0]),
            f"median return change of {base}": float(b.loc[base, "d_median"]) if base in b.index else np.nan,
            f"CVaR5 return change of {base}": float(b.loc[base, "d_cvar5"]) if base in b.index else np.nan,
            "largest median return change": f"{dm['strategy']} {dm['d_median']:+.2%}",
            "largest CVaR5 return change": f"{dc['strategy']} {dc['d_cvar5']:+.2%}",
        })
    return lead + frame_table_html(pd.DataFrame(rows), "sensitivity-table", max_rows=200)


def channel_html(folder: Path, prov: dict) -> str | None:
    """The neutral pace against the scenarios' paces, and the channel's total effect per scenario."""
    ch = (prov.get("channels") or {})
    df = _read(folder, "channel_effect.csv")
    liq = ch.get("liquidity") or {}
    parts = [f"<p>{esc(liq.get('line', ''))}</p>" if liq.get("line") else "",
             f"<p>Rate channels: {esc(ch.get('rates', ''))}.</p>" if ch.get("rates") else ""]
    if df is not None and not df.empty:
        dist = _truth(df["distinguishable"])
        show = df.drop(columns=["distinguishable"]).rename(columns={"effect": "effect (return)",
                                                                    "ci_lo": "ci_lo (return)",
                                                                    "ci_hi": "ci_hi (return)"})
        show["reading"] = np.where(dist, "distinguishable from zero", "indistinguishable from zero")
        parts.append(f"<p>Total effect of the liquidity channel in each scenario: the median horizon return with the "
                     f"channel on minus off, on the same paths (common random numbers), 90% paired-bootstrap "
                     f"interval: {int((~dist).sum())} of {len(df)} effects are <b>indistinguishable from zero</b>."
                     f"</p>")
        parts.append(frame_table_html(show, "channel-table", max_rows=400))
    out = "".join(parts)
    return out or None
