"""Writing a calibration-backtest run folder (``rmpbt scenarios --calibrate``).

Files: ``calibration.csv`` (start, strategy, realised, pit, p5, p50, p95, start state),
``calibration_summary.csv`` (coverage, tail shares, the three tests and the verdict per
strategy and pooled, on all starts and on the starts without fallback pools),
``calibration_pit.csv`` (PIT histogram, 10 bins), ``config.yaml``, ``scenarios.yaml``,
``provenance.json`` and ``calibration.html``. Written atomically: nothing is left in the
results root when anything fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from backtest.config import dump_yaml
from backtest.report.calibration_page import render_calibration_page
from backtest.results import (
    atomic_run_dir,
    final_path,
    make_run_id,
    provenance_record,
    write_json,
)
from backtest.synthetic.calibrate.run import BANDS, CalibrationRun

__all__ = ["calibration_provenance", "write_calibration_run"]


def calibration_provenance(run: CalibrationRun, run_id: str) -> dict[str, Any]:
    """The provenance record of a calibration run folder."""
    cfg, sset = run.cfg, run.sset
    starts = list(dict.fromkeys(run.table["start"]))
    return provenance_record("calibration", run_id, cfg, run.origin, run.md.provenance(),
                             seed=run.seed, notes=run.notes, timings=run.timings, **{
        "scenarios_file": sset.path,
        "paths": run.paths,
        "horizon_days": run.horizon,
        "every": run.every,
        "starts": starts,
        "n_starts": len(starts),
        "overlap": run.overlap,
        "bands": list(BANDS),
        "generator": run.source,
        "mix": sset.mix,
        "scenarios": {s.name: {"probability": s.probability, "start_state": sset.states[s.start_state],
                               "pace_bn_month": [{"until": None if u is None else str(u.date()), "bn_month": b}
                                                 for u, b in s.pace]} for s in sset.scenarios},
        "method": {
            "fit": "per start s: data cut at the last trading day before s (prices dated and macro released "
                   "by then); pools, betas, drifts and signal history from that cut only",
            "start_state": "the state whose ex-ante pool rule the day before s meets (smallest pool if several), "
                           "else the scenario's start_state",
            "fallback_pools": "a state whose rule no usable day before s meets draws from every usable day before s",
            "realised": "one backtest over the whole data sliced per window (holdings carried in)",
            "pit": "mixture-weighted share of simulated horizon returns below the realised one (ties half)",
            "verdict": f"on n/{run.overlap:g} effective outcomes (overlapping windows): exact two-sided binomial "
                       "tests of the shares below the simulated p5 and above the p95 against 0.05, and a "
                       "Cramer-von Mises test of the PITs' uniformity, each at 0.05/3 (Bonferroni); a tail no "
                       "outcome reached without a rejection is inconclusive; given on all starts and on the "
                       "starts without fallback pools",
        },
        "executor": run.executor,
        "settings": cfg.settings_record(),
        "verdicts": {sub: {r.strategy: r.verdict for r in g.itertuples()}
                     for sub, g in run.summary.groupby("subset", sort=False)},
        "n_fallback_starts": int(run.summary["n_fallback_starts"].iloc[0]) if len(run.summary) else 0,
    })


def write_calibration_run(run: CalibrationRun, root: str | Path = "results", report: bool = True) -> Path:
    """Write the calibration run folder atomically and return its path."""
    cfg = run.cfg
    run_id = make_run_id(f"{cfg.name}-calibration", cfg.config_hash())
    with atomic_run_dir(root, run_id) as tmp:
        (tmp / "config.yaml").write_text(dump_yaml(cfg))
        (tmp / "scenarios.yaml").write_text(yaml.safe_dump(json.loads(run.sset.spec.model_dump_json()),
                                                           sort_keys=False))
        run.table.to_csv(tmp / "calibration.csv", index=False, float_format="%.10g")
        run.summary.to_csv(tmp / "calibration_summary.csv", index=False, float_format="%.10g")
        run.histogram.to_csv(tmp / "calibration_pit.csv", index=False, float_format="%.10g")
        write_json(tmp / "provenance.json", calibration_provenance(run, tmp.final.name))
        if report:
            render_calibration_page(tmp)
    return final_path(root, run_id)
