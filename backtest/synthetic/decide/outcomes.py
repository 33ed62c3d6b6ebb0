"""Per-path outcomes of a scenario run: ``scenario_paths.parquet``, built, written and read back.

Every scenario run saves one row per (scenario, path, strategy) so that its choice can be
re-scored without re-simulating (``rmpbt decide``). Columns:

* ``scenario``, ``path`` (0-based index within the scenario), ``strategy``;
* ``weight``: the path's prior weight in the run's mix, ``p_s / n_s`` (0 for a scenario
  outside the mix);
* ``horizon_return``, ``max_drawdown``, ``ann_vol``, ``sharpe``: the per-path metrics the
  scorecard summarises (:data:`PATH_COLUMNS`);
* ``asset_<TICKER>``: each asset's own horizon return on that path (the same on every
  strategy's row; views such as ``E[SPY]=0.08`` read it).

Rows are sorted by scenario (file order), path, strategy (config order). When the run's
60/40 of ``P(beat 60/40)`` is internal (not a strategy of the config), its rows carry the
name ``_sixty_forty_internal`` and only ``horizon_return``. ``provenance.json`` →
``path_outcomes`` records what :func:`load_outcomes` needs to rebuild the run's own choice
(scenario probabilities, λ, statistic and summary, the benchmark, the seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.constants import CVAR_LEVEL
from backtest.errors import ResultsError
from backtest.results import FORMAT_VERSION, REQUIRED_FILES, check_run_dir, write_json
from backtest.synthetic.evaluate.distributions import DEFAULT_CVAR_LAMBDA

if TYPE_CHECKING:
    from backtest.synthetic.evaluate.aggregate import ScenarioRun

PATHS_FILE = "scenario_paths.parquet"
PATH_COLUMNS = ("horizon_return", "max_drawdown", "ann_vol", "sharpe")
ASSET_PREFIX = "asset_"
RECORD_KEY = "path_outcomes"
"""Key of the outcomes record in the run's ``provenance.json``."""


@dataclass
class Outcomes:
    """The per-path outcomes of one scenario run, as arrays (what ``rmpbt decide`` re-scores).

    Attributes
    ----------
    scenarios : list of str
        Every scenario of the run (file order).
    strategies : list of str
        The candidate strategies (config order; the internal 60/40 is not one).
    values : dict
        ``values[column][scenario]``: array (paths, strategies) of a :data:`PATH_COLUMNS` column.
    bench_hr : dict
        Horizon returns of the 60/40 of ``P(beat 60/40)`` per scenario (empty: no 60/40).
    assets : list of str
        Tickers with a per-path horizon return.
    asset_hr : dict
        ``asset_hr[scenario]``: array (paths, assets).
    probabilities : dict
        The run's mix (scenario -> probability; empty: no mix).
    statistic, summary : str
        The run's ``scoring.regret_statistic`` and ``scoring.regret_summary``.
    cvar_lambda : float
        The run's ``scoring.cvar_lambda``.
    benchmark : str or None
        Name of the 60/40 (None: no 60/40 in the run).
    seed : int
        The run's seed (the bootstrap of ``decide`` draws from it).
    run_dir : Path or None
        The run folder (None: built in memory).
    """

    scenarios: list[str]
    strategies: list[str]
    values: dict[str, dict[str, np.ndarray]]
    bench_hr: dict[str, np.ndarray]
    assets: list[str]
    asset_hr: dict[str, np.ndarray]
    probabilities: dict[str, float]
    statistic: str
    summary: str
    cvar_lambda: float
    benchmark: str | None
    seed: int
    run_dir: Path | None = None
    record: dict[str, Any] = field(default_factory=dict)

    def paths(self, scenario: str) -> int:
        """Number of paths of ``scenario``."""
        return int(self.values["horizon_return"][scenario].shape[0])


def path_outcomes(run: ScenarioRun) -> pd.DataFrame | None:
    """The ``scenario_paths.parquet`` frame of an in-memory scenario run (None: not collected).

    Parameters
    ----------
    run : ScenarioRun
        The aggregated run (its ``extras["path_outcomes"]``).

    Returns
    -------
    pd.DataFrame or None
        The columns of the module docstring, sorted by scenario, path, strategy.
    """
    po = run.extras.get(RECORD_KEY)
    if not po:
        return None
    names = [s.name for s in run.prep.sset.scenarios]
    strategies = [s.name for s in run.prep.cfg.strategies]
    bench = po["bench"]
    extra = [bench] if bench is not None and bench not in strategies else []
    tickers = list(next(iter(run.prep.contexts.values())).tickers) if po["assets"] else []
    mix = run.prep.sset.mix
    parts = []
    for n in names:
        stats = po["stats"][n]
        p = len(stats[strategies[0]]["horizon_return"]) if strategies else len(po["bench_horizon_return"][n])
        k = len(strategies) + len(extra)
        cols: dict[str, Any] = {
            "scenario": np.repeat(np.array([n], dtype=object), p * k),
            "path": np.repeat(np.arange(p, dtype=np.int64), k),
            "strategy": np.tile(np.array([*strategies, *extra], dtype=object), p),
            "weight": np.full(p * k, float(mix[n]) / p if n in mix else 0.0),
        }
        for c in PATH_COLUMNS:
            mat = np.full((p, k), np.nan)
            for j, s in enumerate(strategies):
                mat[:, j] = stats[s][c]
            if extra and c == "horizon_return":
                mat[:, -1] = po["bench_horizon_return"][n]
            cols[c] = mat.ravel()
        if tickers:
            ar = np.asarray(po["assets"][n], dtype=float)
            for i, t in enumerate(tickers):
                cols[f"{ASSET_PREFIX}{t}"] = np.repeat(ar[:, i], k)
        parts.append(pd.DataFrame(cols))
    return pd.concat(parts, ignore_index=True)


def outcomes_record(run: ScenarioRun) -> dict[str, Any] | None:
    """The ``provenance.json`` → ``path_outcomes`` record (None: outcomes not collected)."""
    po = run.extras.get(RECORD_KEY)
    if not po:
        return None
    sset = run.prep.sset
    spec = sset.spec.scoring
    strategies = [s.name for s in run.prep.cfg.strategies]
    tickers = list(next(iter(run.prep.contexts.values())).tickers) if po["assets"] else []
    ctx = next(iter(run.prep.contexts.values()), None)
    cal = run.prep.md.calendar
    return {
        "file": PATHS_FILE,
        "first_day": None if ctx is None else str(ctx.days[0].date()),
        "last_day": None if ctx is None else str(ctx.days[-1].date()),
        "data_last_date": str(cal[-1].date()) if len(cal) else None,
        "synthetic_data": bool(run.prep.md.synthetic),
        "scenarios": [s.name for s in sset.scenarios],
        "probabilities": {k: float(v) for k, v in sset.mix.items()},
        "strategies": strategies,
        "benchmark": po["bench"],
        "benchmark_internal": po["bench"] is not None and po["bench"] not in strategies,
        "assets": tickers,
        "statistic": spec.regret_statistic,
        "summary": spec.regret_summary,
        "cvar_lambda": float(getattr(spec, "cvar_lambda", DEFAULT_CVAR_LAMBDA)),
        "cvar_level": CVAR_LEVEL,
        "seed": int(run.seed),
        "paths": int(run.paths),
        "weight": "p_s / n_s for a scenario of the mix, 0 outside it",
    }


def write_path_outcomes(run: ScenarioRun, folder: Path) -> None:
    """Write ``scenario_paths.parquet`` into the (temporary) run folder, if outcomes were collected."""
    frame = path_outcomes(run)
    if frame is not None:
        frame.to_parquet(Path(folder) / PATHS_FILE, index=False)


def _column_names(data: pd.DataFrame | pa.Table) -> list[str]:
    return list(data.column_names) if isinstance(data, pa.Table) else [str(c) for c in data.columns]


def _floats(data: pd.DataFrame | pa.Table, name: str) -> np.ndarray:
    col = data.column(name).to_numpy() if isinstance(data, pa.Table) else data[name].to_numpy()
    return np.asarray(col, dtype=float)


def _codes(data: pd.DataFrame | pa.Table, name: str, categories: list[str]) -> np.ndarray:
    """Index of each row's label in ``categories`` (−1: not there); dictionary columns are read as codes."""
    if isinstance(data, pd.DataFrame):
        return np.asarray(pd.Categorical(data[name].astype(str), categories=categories).codes, dtype=np.int64)
    col = data.column(name).combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    lut = np.array([categories.index(v) if v in categories else -1 for v in col.dictionary.to_pylist()] + [-1],
                   dtype=np.int64)
    idx = col.indices.fill_null(len(lut) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
    return lut[idx]


def _value(data: pd.DataFrame | pa.Table, name: str, row: int) -> object:
    return data.column(name)[row].as_py() if isinstance(data, pa.Table) else data[name].iloc[row]


def outcomes_from_frame(frame: pd.DataFrame | pa.Table, record: dict[str, Any],
                        origin: str = "scenario_paths.parquet", run_dir: Path | None = None) -> Outcomes:
    """Arrays of a ``scenario_paths.parquet`` frame (or Arrow table) and its provenance record.

    Raises
    ------
    ResultsError
        Missing columns, a strategy or scenario missing on some path, duplicated rows,
        a record that does not match the file.
    """
    names = _column_names(frame)
    need = {"scenario", "path", "strategy", *PATH_COLUMNS}
    missing = sorted(need - set(names))
    if missing:
        raise ResultsError(f"{origin}: missing column(s) {', '.join(missing)}")
    scen = [str(s) for s in record.get("scenarios") or []]
    strategies = [str(s) for s in record.get("strategies") or []]
    bench = record.get("benchmark")
    everyone = strategies + ([str(bench)] if record.get("benchmark_internal") else [])
    if not strategies or not scen:
        raise ResultsError(f"{origin}: the provenance record lists no strategies or no scenarios")
    assets = [str(a) for a in record.get("assets") or [] if f"{ASSET_PREFIX}{a}" in names]
    s_codes = _codes(frame, "scenario", scen)
    k_codes = _codes(frame, "strategy", everyone)
    if (s_codes < 0).any() or (k_codes < 0).any():
        i = int(np.flatnonzero((s_codes < 0) | (k_codes < 0))[0])
        raise ResultsError(f"{origin}: row of scenario {_value(frame, 'scenario', i)!r}, strategy "
                           f"{_value(frame, 'strategy', i)!r} is not in the run's provenance record")
    path = _floats(frame, "path")
    if not np.isfinite(path).all() or (path != np.round(path)).any():
        raise ResultsError(f"{origin}: column path must hold whole path numbers")
    values: dict[str, dict[str, np.ndarray]] = {c: {} for c in PATH_COLUMNS}
    bench_hr: dict[str, np.ndarray] = {}
    asset_hr: dict[str, np.ndarray] = {}
    cols = {c: _floats(frame, c) for c in PATH_COLUMNS}
    acols = [_floats(frame, f"{ASSET_PREFIX}{a}") for a in assets]
    k_all = len(everyone)
    for i, n in enumerate(scen):
        rows = np.flatnonzero(s_codes == i)
        if not len(rows):
            raise ResultsError(f"{origin}: no rows for scenario {n!r}")
        p_idx = path[rows].astype(np.int64)
        n_paths = int(p_idx.max()) + 1
        if p_idx.min() < 0 or len(rows) != n_paths * k_all:
            raise ResultsError(f"{origin}: scenario {n!r} does not have one row per path and strategy "
                               f"({len(rows)} rows for {n_paths} paths x {k_all} strategies)")
        flat = p_idx * k_all + k_codes[rows]
        seen = np.zeros(n_paths * k_all, dtype=bool)
        seen[flat] = True
        if not seen.all():
            raise ResultsError(f"{origin}: scenario {n!r} has duplicated or missing (path, strategy) rows")
        for c in PATH_COLUMNS:
            mat = np.empty(n_paths * k_all)
            mat[flat] = cols[c][rows]
            mat = mat.reshape(n_paths, k_all)
            values[c][n] = np.ascontiguousarray(mat[:, : len(strategies)])
            if c == "horizon_return" and bench is not None:
                j = everyone.index(str(bench))
                bench_hr[n] = mat[:, j].copy()
        if acols:
            first = rows[k_codes[rows] == 0]  # one row per path: the first strategy's
            a = np.empty((n_paths, len(assets)))
            a[path[first].astype(np.int64)] = np.column_stack([col[first] for col in acols])
            asset_hr[n] = a
    probs = {str(k): float(v) for k, v in (record.get("probabilities") or {}).items()}
    return Outcomes(scen, strategies, values, bench_hr, assets, asset_hr, probs,
                    str(record.get("statistic") or "cvar_penalised"), str(record.get("summary") or "mean"),
                    float(record.get("cvar_lambda", DEFAULT_CVAR_LAMBDA)), None if bench is None else str(bench),
                    int(record.get("seed") or 0), run_dir, dict(record))


def outcomes_of_run(run: ScenarioRun) -> Outcomes | None:
    """The outcomes of an in-memory run (what :func:`load_outcomes` reads back from its folder)."""
    frame, record = path_outcomes(run), outcomes_record(run)
    if frame is None or record is None:
        return None
    return outcomes_from_frame(frame, record, "<run>")


def write_outcomes_folder(folder: str | Path, frame: pd.DataFrame, record: dict[str, Any]) -> Path:
    """A minimal scenario run folder holding only per-path outcomes (for outcomes made elsewhere).

    ``rmpbt decide`` reads it like the folder of ``rmpbt scenarios``: ``scenario_paths.parquet``
    (the columns of this module), a ``provenance.json`` with the ``path_outcomes`` record
    (:func:`outcomes_record`'s keys: ``scenarios``, ``strategies``, ``probabilities``,
    ``statistic``, ``summary``, ``cvar_lambda``, ``benchmark``, ``benchmark_internal``,
    ``assets``, ``seed``) and empty contract files. Used by the tests and
    ``benchmarks/bench_decide.py``.

    Parameters
    ----------
    folder : str or Path
        A new folder (created; it must not exist).
    frame : pd.DataFrame
        The per-path outcomes.
    record : dict
        The outcomes record.

    Returns
    -------
    Path
    """
    out = Path(folder)
    out.mkdir(parents=True)
    frame.to_parquet(out / PATHS_FILE, index=False)
    for name in REQUIRED_FILES:
        if name != "provenance.json":
            (out / name).write_text("")
    write_json(out / "provenance.json", {"format_version": FORMAT_VERSION, "kind": "scenarios", "run_id": out.name,
                                         RECORD_KEY: {"file": PATHS_FILE, **record}})
    return out


def load_outcomes(run_dir: str | Path) -> Outcomes:
    """The per-path outcomes of a scenario run folder.

    Raises
    ------
    ResultsError
        Not a run folder, not a scenario run, or made before per-path outcomes were saved
        (re-run ``rmpbt scenarios``), or an unreadable file.
    """
    folder = Path(run_dir)
    prov = check_run_dir(folder)
    if prov.get("kind") != "scenarios":
        raise ResultsError(f"{folder}: not a scenario run folder (provenance kind {prov.get('kind')!r}); "
                           "rmpbt decide re-scores the folder of `rmpbt scenarios`")
    record = prov.get(RECORD_KEY)
    path = folder / PATHS_FILE
    if not isinstance(record, dict) or not path.is_file():
        raise ResultsError(f"{folder}: no per-path outcomes ({PATHS_FILE}; the folder was made before they were "
                           "saved): re-run `rmpbt scenarios` to make a folder rmpbt decide can read")
    try:  # Arrow directly, labels as dictionary codes: a tenth of the time of pandas' string columns
        table = pq.read_table(path, read_dictionary=["scenario", "strategy"])
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: unreadable ({type(exc).__name__})") from None
    return outcomes_from_frame(table, record, str(path), folder)


__all__ = ["ASSET_PREFIX", "PATHS_FILE", "PATH_COLUMNS", "RECORD_KEY", "Outcomes", "load_outcomes",
           "outcomes_from_frame", "outcomes_of_run", "outcomes_record", "path_outcomes", "write_outcomes_folder",
           "write_path_outcomes"]
