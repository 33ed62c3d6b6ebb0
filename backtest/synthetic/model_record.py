"""What a scenario run says about its own model: files, provenance, and the plain-words lines.

One home for the records of the scenario model's checks, so the terminal, the page and
``provenance.json`` say the same thing:

* the per-state pool table (``pool_table.csv``, :mod:`backtest.synthetic.side.pool_table`);
* the leave-one-episode-out table (``pool_sensitivity.csv``);
* the liquidity channel's total effect (``channel_effect.csv``) and its neutral pace;
* the separation of the robust choice (``choice_separation.csv``);
* where the medians come from (the drift sentence), the rate channels' neutrality and
  the release cut of the data.

:func:`model_lines` gives the terminal's lines, each with its tone (``good`` / ``neutral``
/ ``bad``), and :func:`model_provenance` stores the same sentences for the page.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from backtest.synthetic.evaluate.aggregate import ScenarioRun
from backtest.synthetic.evaluate.separation import separation_sentence
from backtest.synthetic.model.context import NEUTRAL_CHANNELS
from backtest.synthetic.model.drift import drift_source
from backtest.synthetic.model.pool_episodes import EPISODE_GAP, MAX_EPISODES
from backtest.synthetic.side.channel_effect import channel_lines
from backtest.synthetic.side.pool_sensitivity import sensitivity_lines

__all__ = ["RATES_RULE", "STRESS_WATCH_RULE", "model_lines", "model_provenance", "model_tables", "neutral_line",
           "drift_assets", "occupancy"]

RATES_RULE = ("demeaned per state: the bootstrap removes each pool's mean daily change of DGS2, DGS10, the "
              "policy-rate target and ON RRP (the parametric source reverts them to the start's level), so their "
              "expected path is flat at the start's level; no pool's hikes or cuts carry into a scenario")
STRESS_WATCH_RULE = ("a paced state holds no day on the stress watch: the rules classifier's stress flag, or VIX at "
                     "or above its exit level (vix_exit)")
CHANNEL_NAMES = {"dgs2": "DGS2", "dgs10": "DGS10", "top": "DFEDTARU", "rrp": "RRPONTSYD"}


def model_tables(run: ScenarioRun) -> dict[str, pd.DataFrame]:
    """File name -> table of the run folder (only those the run produced)."""
    out: dict[str, pd.DataFrame] = {}
    x = run.extras
    if isinstance(x.get("pool_table"), pd.DataFrame):
        out["pool_table.csv"] = x["pool_table"]
    if x.get("pool_sensitivity") is not None:
        out["pool_sensitivity.csv"] = x["pool_sensitivity"].table
    if isinstance(x.get("channel_effect"), pd.DataFrame):
        out["channel_effect.csv"] = x["channel_effect"]
    if isinstance(x.get("separation"), pd.DataFrame) and len(x["separation"]):
        out["choice_separation.csv"] = x["separation"]
    return out


def neutral_line(run: ScenarioRun) -> str:
    """The liquidity channel's neutral pace beside the scenarios' paces and the pools' own flows."""
    prep = run.prep
    first = next(iter(prep.contexts.values()))
    paced = [i for i, p in enumerate(first.paced) if p]
    if not paced:
        return "liquidity channel: no paced state (the pace moves no drift)"
    fixed = prep.sset.spec.liquidity.neutral_pace_bn_month
    neutral = ", ".join(f"{first.states[i]} {first.neutral[i]:.1f}" for i in paced)
    how = ("stated in the scenario file" if fixed is not None
           else "the purchase flow each paced state's target drift already carries")
    paces = ", ".join(f"{n} {float(np.mean(c.pace)):g}" for n, c in prep.contexts.items())
    own = ", ".join(f"{first.states[i]} {first.pace_ref[i]:.1f}" for i in paced)
    return (f"liquidity channel: zero at the neutral pace ({how}) {neutral} bn/month; scenario paces {paces}; "
            f"the pool's own flow {own} (rate channels carry no drift: demeaned per state)")


def model_lines(run: ScenarioRun) -> list[tuple[str, str]]:
    """Terminal lines about the scenario model, each with its tone (``""``: plain; a verdict's
    ``good`` / ``neutral`` / ``bad``: green, amber, red)."""
    prep = run.prep
    first = next(iter(prep.contexts.values()))
    out: list[tuple[str, str]] = []
    src = drift_source(prep.sset.states, first.drifts, drift_assets(first))
    if src:
        out.append((src, ""))
    out.append((neutral_line(run), ""))
    out.extend((line, "") for line in channel_lines(run.extras.get("channel_effect")))
    out.extend((line, "") for line in sensitivity_lines(run.extras.get("pool_sensitivity"), occupancy(run)))
    text, tone = separation_sentence(run.extras.get("separation"), run.regret)
    if text:
        out.append((text, tone))
    return out


def drift_assets(ctx: Any) -> list[str]:
    """The assets of a context's drift columns (the bootstrap's tickers; none for the parametric model)."""
    return list(ctx.tickers) if ctx.source == "bootstrap" else []


def occupancy(run: ScenarioRun) -> dict[str, dict[str, float]]:
    """State -> scenario -> share of the simulated days (``scenario_states.csv``)."""
    out: dict[str, dict[str, float]] = {}
    for r in run.occupancy.itertuples():
        out.setdefault(str(r.state), {})[str(r.scenario)] = float(r.share_of_days)
    return out


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    return None if df is None else json.loads(df.to_json(orient="records"))


def model_provenance(run: ScenarioRun) -> dict[str, Any]:
    """Provenance keys of the scenario model's checks (see the module docstring)."""
    prep = run.prep
    sset = prep.sset
    first = next(iter(prep.contexts.values()))
    sens = run.extras.get("pool_sensitivity")
    text, _ = separation_sentence(run.extras.get("separation"), run.regret)
    cut = {n: {"t0": str(kh.t0.date()), "cut_by_release": kh.md is not prep.md,
               "nowcast": {s: [str(d.date()) for d in v[0]] for s, v in prep.contexts[n].fill.items()}}
           for n, kh in prep.known.items()}
    return {
        "data_cut": {"rule": "a forward run reads prices dated by t0 and macro observations released by t0; "
                             "observations dated by t0 but released later are nowcast on the paths (CPI at its "
                             "trailing 12-month growth, others flat) and released no earlier than the first "
                             "simulated day", "scenarios": cut},
        "pools": {"precedence": list(sset.precedence), "stress_watch": STRESS_WATCH_RULE,
                  "table": _records(run.extras.get("pool_table"))},
        "medians_from": drift_source(sset.states, first.drifts, drift_assets(first)),
        "channels": {
            "rates": RATES_RULE, "rate_series": [CHANNEL_NAMES[c] for c in NEUTRAL_CHANNELS],
            "liquidity": {
                "neutral_pace_rule": ("stated: liquidity.neutral_pace_bn_month"
                                      if sset.spec.liquidity.neutral_pace_bn_month is not None else
                                      "w_s * pool flow + (1 - w_s) * mean WALCL growth of the unconditional "
                                      "drift's days (w_s: the drift weight of the pool's own mean)"),
                "neutral_pace_bn_month": {s: round(float(first.neutral[i]), 3) for i, s in enumerate(sset.states)
                                          if first.paced[i]},
                "pool_flow_bn_month": {s: round(float(first.pace_ref[i]), 3) for i, s in enumerate(sset.states)},
                "scenario_pace_bn_month": {n: round(float(np.mean(c.pace)), 3) for n, c in prep.contexts.items()},
                "line": neutral_line(run),
            },
            "channel_effect": _records(run.extras.get("channel_effect")),
        },
        "pool_sensitivity": None if sens is None else {
            "paths": sens.paths, "choice_base": sens.choice_base, "most": sens.most, "skipped": list(sens.skipped),
            "episodes": f"runs of pool days, gaps up to {EPISODE_GAP} trading days bridged; states with more than "
                        f"{MAX_EPISODES} grouped by calendar year",
            "lines": sensitivity_lines(sens, occupancy(run))},
        "separation": {"sentence": text, "table": _records(run.extras.get("separation"))},
    }
