"""Writing a scenario run folder: contract files, scenario tables, provenance, the page."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from backtest.config import dump_yaml
from backtest.metrics import REGIME_METRIC_COLUMNS
from backtest.report.scenario_page import render_scenario_page
from backtest.results import (
    atomic_run_dir,
    final_path,
    make_run_id,
    provenance_record,
    write_json,
)
from backtest.synthetic.decide.outcomes import outcomes_record, write_path_outcomes
from backtest.synthetic.evaluate.aggregate import ScenarioRun
from backtest.synthetic.labels.sim_labels import provenance_entry
from backtest.synthetic.model.bootstrap import pool_ranges
from backtest.synthetic.model.drift import drift_provenance
from backtest.synthetic.model_record import model_provenance, model_tables


def _file_hash(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


def provenance(run: ScenarioRun, run_id: str) -> dict[str, Any]:
    """The provenance record of a scenario run folder."""

    prep, cfg, sset = run.prep, run.prep.cfg, run.prep.sset
    md = prep.md
    states = {}
    for i, s in enumerate(sset.states):
        ctx0 = next(iter(prep.contexts.values()))
        pool = ctx0.pools[i]
        states[s] = {
            "kind": sset.kinds[i], "paced": bool(sset.paced[i]),
            "analogues": [{"label": p.label, "start": str(p.start.date()), "end": str(p.end.date())}
                          for p in prep.periods[s]],
            "pool_days": int(len(pool.days)), "pool_segments": pool.n_segments,
            "pool_ranges": {n: [list(r) for r in pool_ranges(c.pools[i], prep.history.dates)]
                            for n, c in prep.contexts.items()},
            "reference_pace_bn_month": round(float(ctx0.pace_ref[i]), 3),
        }
    scen = {}
    for sc in sset.scenarios:
        ctx = prep.contexts[sc.name]
        scen[sc.name] = {
            "title": sc.title, "probability": sc.probability, "start_state": sset.states[sc.start_state],
            "t0": str(ctx.t0.date()), "first_day": str(ctx.days[0].date()), "last_day": str(ctx.days[-1].date()),
            "horizon_days": sc.horizon_days,
            "pace_bn_month": [{"until": None if u is None else str(u.date()), "bn_month": b} for u, b in sc.pace],
            "transition_matrix": np.round(sc.matrix, 10).tolist(),
            "mean_dwell_days": [None if not np.isfinite(x) else round(float(x), 4) for x in sc.mean_dwell()],
            "paths_evaluated_per_path": run.per_path[sc.name],
        }
    occ = {f"{r.scenario}/{r.state}": round(r.share_of_days, 6) for r in run.occupancy.itertuples()}
    return provenance_record("scenarios", run_id, cfg, prep.origin, md.provenance(),
                             seed=run.seed, notes=run.notes, timings=run.timings, **{
        "scenarios_file": sset.path,
        "scenarios_hash": _file_hash(sset.path),
        "paths": run.paths,
        "chunk_size": run.chunk_size,
        "executor": run.executor,
        "generator": prep.source,
        "mean_block_days": sset.spec.mean_block_days if prep.source == "bootstrap" else None,
        "include_forecast_period": bool(sset.spec.include_forecast_period),
        "pool_warnings": list(prep.warnings),
        "settings": {**cfg.settings_record(), "regime_model": provenance_entry(prep.labelers, cfg.regimes.model),
                     "sim_labels": sset.spec.labels},
        "betas": prep.betas.to_dict(),
        "beta_draws": "per path: beta + se * (L z), z ~ N(0, I), L L' = betas.error_corr (identity when absent), "
                      "from the path's own stream",
        "drift": drift_provenance(sset.states, {n: c.drifts for n, c in prep.contexts.items()}, prep.history.tickers),
        "pace_override": dict(sset.pace_override),
        "pace_effect": _records(run.extras.get("pace_effect")),
        **model_provenance(run),
        "states": states,
        "scenarios": scen,
        "mix": sset.mix,
        "state_occupancy": occ,
        "regret": {"statistic": sset.spec.scoring.regret_statistic, "summary": sset.spec.scoring.regret_summary,
                   "choice_resamples": sset.spec.scoring.choice_resamples},
        "path_outcomes": outcomes_record(run),  # what rmpbt decide needs (scenario_paths.parquet)
        "contents": "metrics.csv / returns.parquet / weights.parquet hold medians (weights: means) over the "
                    "probability-weighted mix of scenarios; regime_metrics.csv is empty for scenario runs",
    })


def write_scenario_run(run: ScenarioRun, root: str | Path = "results", report: bool = True) -> Path:
    """Write the run folder atomically (contract files + scenario tables) and return its path."""

    cfg = run.prep.cfg
    name = f"{cfg.name}-scenarios"
    run_id = make_run_id(name, cfg.config_hash())
    with atomic_run_dir(root, run_id) as tmp:
        t = time.perf_counter()
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        sc_raw = json.loads(run.prep.sset.spec.model_dump_json())
        (tmp / "scenarios.yaml").write_text(_yaml(sc_raw))
        run.scenario_metrics.to_csv(tmp / "scenario_metrics.csv", index=False, float_format="%.10g")
        run.regret.to_csv(tmp / "scenario_regret.csv", index=False, float_format="%.10g")
        run.fan.to_parquet(tmp / "scenario_fan.parquet", index=False)
        run.occupancy.to_csv(tmp / "scenario_states.csv", index=False, float_format="%.10g")
        if isinstance(run.extras.get("horizon_hist"), pd.DataFrame):  # outcome histograms of the page
            run.extras["horizon_hist"].to_csv(tmp / "scenario_hist.csv", index=False, float_format="%.10g")
        run.metrics.to_csv(tmp / "metrics.csv", float_format="%.10g")
        pd.DataFrame(columns=REGIME_METRIC_COLUMNS).to_csv(tmp / "regime_metrics.csv", index=False)
        run.returns.to_parquet(tmp / "returns.parquet")
        run.weights.to_parquet(tmp / "weights.parquet", index=False)
        if run.extras.get("pace_effect") is not None:
            run.extras["pace_effect"].to_csv(tmp / "pace_effect.csv", index=False, float_format="%.10g")
        write_path_outcomes(run, tmp)  # scenario_paths.parquet, for rmpbt decide
        for name, df in model_tables(run).items():  # pools, pool sensitivity, channel effect, separation
            df.to_csv(tmp / name, index=False, float_format="%.10g")
        run.timings["write"] = time.perf_counter() - t
        write_json(tmp / "provenance.json", provenance(run, tmp.final.name))
        if report and cfg.report.html:  # the scenario page; no run-tearsheet PNGs of simulated paths
            t = time.perf_counter()
            render_scenario_page(tmp)
            run.timings["report"] = time.perf_counter() - t
    return final_path(root, run_id)


def _records(df: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    return None if df is None else json.loads(df.to_json(orient="records"))


def _yaml(obj: Any) -> str:

    return yaml.safe_dump(obj, sort_keys=False)


__all__ = ["provenance", "write_scenario_run"]
