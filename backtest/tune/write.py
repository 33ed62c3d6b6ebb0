"""Writing a tune's run folder: ``tune.csv``, ``best.yaml``, ``oos.csv``, ``tune.html``,
``provenance.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from backtest.results import (
    atomic_run_dir,
    final_path,
    make_run_id,
    provenance_record,
    write_json,
)
from backtest.tune.orchestrate import TuneResult


def write_tune(result: TuneResult, root: str | Path = "results", html: bool = True) -> Path:
    """Write ``tune.csv``, ``best.yaml``, ``oos.csv``, ``tune.html`` and ``provenance.json`` atomically
    (and ``cpcv.csv`` with ``--cv``).

    Returns
    -------
    Path
        The new run folder.
    """

    cfg = result.cfg
    run_id = make_run_id(f"tune-{cfg.name}-{result.strategy}", cfg.config_hash())
    with atomic_run_dir(root, run_id) as tmp:
        result.table.to_csv(tmp / "tune.csv", index=False, float_format="%.10g")
        (tmp / "best.yaml").write_text(
            f"# best variant {result.best} of `rmpbt tune {result.origin}` (in-sample {result.metric})\n"
            + yaml.safe_dump(result.best_config, sort_keys=False))
        oos = result.oos_returns.copy()
        oos.index.name = "date"
        oos.to_csv(tmp / "oos.csv", float_format="%.10g")
        if result.verdict is not None and result.verdict.cv is not None:  # issue 23: --cv
            result.verdict.cv.frame().to_csv(tmp / "cpcv.csv", index=False, float_format="%.10g")
        if html:
            from backtest.report.tune_page import render_tune_page

            (tmp / "tune.html").write_text(render_tune_page(result), encoding="utf-8")
        req = result.request
        d = result.dsr
        prov = provenance_record(
            "tune", tmp.final.name, cfg, result.origin, result.md.provenance(result.days),
            seed=cfg.seed if req.seed is None else req.seed, notes=result.notes, timings=result.timings,
            strategy=result.strategy,
            grid={a.key: list(a.values) for a in result.axes},
            grid_specs=[a.spec for a in result.axes],
            where=req.where,
            random=req.random,
            metric=result.metric,
            walk_forward=req.walk_forward,
            split=req.split,
            folds=result.folds.astype({"train_start": str, "train_end": str, "test_start": str,
                                       "test_end": str}).to_dict(orient="records"),
            variants=len(result.table),
            paths=result.n_paths,
            weights=result.weight_modes,
            best={"variant": result.best, **{a.key: result.table.loc[result.best, a.key] for a in result.axes}},
            deflated_sharpe={
                "dsr": d.dsr, "psr": d.psr, "sharpe_daily": d.sharpe, "sr0_daily": d.sr0,
                "sharpe_annual": d.annualised()["sharpe"], "sr0_annual": d.annualised()["sr0"],
                "n_trials": d.n_trials, "n_obs": d.n_obs, "skew": d.skew, "kurtosis": d.kurtosis,
                "var_trials": d.var_trials,
            },
            verdict=result.verdict.to_dict() if result.verdict is not None else None,  # issue 13
            rank_corr_by_fold=result.fold_rank_corr,
            executor=result.executor,
        )
        write_json(tmp / "provenance.json", _plain(prov))
    return final_path(root, run_id)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
