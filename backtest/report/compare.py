"""One HTML page comparing the strategies of several run folders (``rmpbt compare``).

Strategies are labelled ``<run label>/<strategy>``; the run label is the run's name, made
unique as ``name#2``, ``name#3`` (in the order given) when runs share a name; the same folder
given twice is compared once (with a note). ``strategies`` keeps only some strategies; when
the runs hold the same strategies, run-against-run deltas per strategy are added. Runs must cover
the same period unless ``align=True``, which restricts every run to the common period and
recomputes metrics there. Metric deltas are shown against a baseline strategy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.cost_drag import COST_DRAG_COLUMNS, cost_drag_table, rebase_costs
from backtest.errors import ResultsError
from backtest.metrics import regime_metrics
from backtest.metrics_relative import RELATIVE_COLUMNS, relative_table
from backtest.report.html import Page, clean_run_id, esc, footer_html, settings_items, source_html
from backtest.report.rundata import RunData, load_run
from backtest.report.sections import add_sections, positions_frames
from backtest.results import check_run_dir, write_text_atomic
from backtest.run_metrics import run_metrics_table


def new_page_name(root: Path, now: object = None) -> Path:
    """A new page name in ``root`` for each comparison: ``compare-YYYYMMDD-HHMMSS[-N].html`` (UTC).

    The previous comparison's page is never overwritten.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    cand, n = root / f"compare-{stamp}.html", 1
    while cand.exists():
        cand, n = root / f"compare-{stamp}-{n}.html", n + 1
    return cand


def load_runs(paths: list[str | Path]) -> list[RunData]:
    """Validate and read run folders.

    Raises
    ------
    ResultsError
        No folder given, a folder that is not a run, or a run of another format version.
    """
    if not paths:
        raise ResultsError("compare: no run folders given (pass one or more RUN_DIR)")
    runs = []
    seen: dict[Path, str] = {}
    for p in paths:
        path = Path(p)
        try:
            check_run_dir(path)
        except ResultsError as exc:
            inner = [d for d in path.iterdir() if d.is_dir() and (d / "provenance.json").exists()] \
                if path.is_dir() else []
            if inner:
                raise ResultsError(f"{exc}; it holds {len(inner)} run folder(s): pass those instead") from None
            raise
        key = path.resolve()
        if key in seen:
            raise ResultsError(f"{p}: the same run folder is given twice (also as {seen[key]})")
        seen[key] = str(p)
        kind = _provenance_kind(path)
        if kind not in (None, "run"):
            raise ResultsError(f"{p}: a {kind} folder, not a backtest run folder (rmpbt run): compare reads run "
                               f"folders only; a {kind} folder's own tables and page hold its results")
        run = load_run_checked(path)
        check_finite_returns(run, path)
        runs.append(run)
    return runs


def _provenance_kind(path: Path) -> str | None:
    try:
        prov = json.loads((path / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = prov.get("kind") if isinstance(prov, dict) else None
    return str(kind) if kind is not None else None


def check_finite_returns(run: RunData, path: Path) -> None:
    """Refuse a run whose daily returns hold NaN or inf where a strategy is live (a damaged folder).

    Raises
    ------
    ResultsError
        Naming the folder, the strategy and the first date.
    """
    r = run.returns
    vals = r.to_numpy(dtype=float)
    bad = np.isinf(vals) | (np.isnan(vals) & ~np.isnan(vals).all(axis=0))
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        raise ResultsError(f"{path}/returns.parquet: strategy {r.columns[j]} has a non-finite return "
                           f"({vals[i, j]}) on {pd.Timestamp(r.index[i]).date()}: the run folder is damaged")


def load_run_checked(path: Path) -> RunData:
    """:func:`load_run`, with any unreadable or garbage file reported as one ``ResultsError`` line."""
    try:
        return load_run(path)
    except ResultsError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow/pandas/yaml raise many types on garbage
        what = getattr(exc, "filename", None) or path
        raise ResultsError(
            f"{what}: not a readable run folder ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        ) from None


def run_labels(runs: list[RunData]) -> list[str]:
    """Stable, unique label per run: its name; later runs of the same name ``name#2``, ``name#3``...

    Every label is unique, also when a run is itself named like a generated label (a run named
    ``base#2`` keeps that name and a second ``base`` becomes ``base#3``), so the merged
    ``label/strategy`` rows never collide.
    """
    names = [str(r.prov.get("name") or r.folder.name).replace("/", "-") for r in runs]
    taken = set(names)  # bare names are reserved for their own runs
    used: set[str] = set()
    labels = []
    for name in names:
        label = name
        k = 1
        while label in used or (k > 1 and label in taken):
            k += 1
            label = f"{name}#{k}"
        used.add(label)
        labels.append(label)
    return labels


def dedupe_paths(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """The folders in order with repeats (same resolved path) dropped, and a note per repeat."""
    out: list[Path] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for p in paths:
        rp = Path(p).resolve()
        if rp in seen:
            notes.append(f"{p}: given more than once; compared once")
            continue
        seen.add(rp)
        out.append(Path(p))
    return out, notes


def select_strategies(full: list[str], wanted: list[str] | None) -> list[str]:
    """The ``run/strategy`` labels picked by ``wanted`` (full labels or bare strategy names).

    Raises
    ------
    ResultsError
        A name matching nothing (with the full candidate list).
    """
    if not wanted:
        return full
    keep: list[str] = []
    for w in wanted:
        hit = [f for f in full if f == w or f.split("/", 1)[1] == w]
        if not hit:
            raise ResultsError(f"compare: --strategies {w!r} matches no strategy; choose from: {', '.join(full)}")
        keep.extend(h for h in hit if h not in keep)
    return [f for f in full if f in keep]


def filter_data(data: RunData, keep: list[str]) -> RunData:
    """``data`` restricted to the strategies ``keep``."""
    def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "strategy" not in frame.columns:
            return frame
        return frame.loc[frame["strategy"].isin(keep)].reset_index(drop=True)

    rf = data.rf[keep] if isinstance(data.rf, pd.DataFrame) else data.rf
    gone = sorted({b for s, b in data.benchmark_of().items() if s in keep and b not in keep})
    return replace(data, metrics=data.metrics.loc[keep], regime_metrics=cut(data.regime_metrics),
                   returns=data.returns[keep], rf=rf, costs=cut(data.costs),
                   extras={k: cut(v) for k, v in data.extras.items()},
                   weight_frames={k: v for k, v in (data.weight_frames or {}).items() if k in keep},
                   benchmarks={s: b for s, b in data.benchmark_of().items() if s in keep},
                   bench_returns=data.returns[gone] if gone else None)


DELTA_COLUMNS = ("cagr", "total_return", "ann_vol", "sharpe", "max_drawdown", "turnover")


def deltas(metrics: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Metric differences of every strategy against ``baseline`` (rows: strategies)."""
    cols = [c for c in DELTA_COLUMNS if c in metrics.columns]
    return metrics[cols].sub(metrics.loc[baseline, cols], axis=1)


def run_deltas(metrics: pd.DataFrame, labels: list[str], strategies: list[list[str]]) -> pd.DataFrame | None:
    """Per strategy, each later run minus the first run, when all runs hold the same strategies.

    Returns
    -------
    DataFrame or None
        Index ``strategy``, ``run`` (``label_k vs label_1``); ``None`` for one run or when
        the strategy sets differ.
    """
    if len(labels) < 2 or any(set(s) != set(strategies[0]) for s in strategies[1:]):
        return None
    cols = [c for c in DELTA_COLUMNS if c in metrics.columns]
    rows = []
    for s in strategies[0]:
        first = metrics.loc[f"{labels[0]}/{s}", cols]
        for lbl in labels[1:]:
            d = metrics.loc[f"{lbl}/{s}", cols] - first
            rows.append({"strategy": s, "run": f"{lbl} vs {labels[0]}", **d.to_dict()})
    return pd.DataFrame(rows).set_index(["strategy", "run"])


def run_deltas_html(table: pd.DataFrame) -> str:
    """HTML table of :func:`run_deltas` (percent metrics in percentage points)."""
    pct = {"cagr", "total_return", "ann_vol", "max_drawdown"}
    head = "".join(f"<th>Δ {esc(c)}</th>" for c in table.columns)
    rows = []
    for (s, run), row in table.iterrows():
        cells = "".join(f"<td>{v * 100:+.2f} pp</td>" if c in pct else f"<td>{v:+.3f}</td>"
                        for c, v in row.items())
        rows.append(f'<tr><th scope="row" class="name">{esc(s)}</th><td class="txt">{esc(run)}</td>{cells}</tr>')
    return (f'<div class="scroll"><table class="data" id="run-delta-table"><thead><tr><th>strategy</th><th>runs</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _period(run: RunData) -> tuple[pd.Timestamp, pd.Timestamp]:
    d = run.prov.get("data") or {}
    idx = pd.DatetimeIndex(run.returns.index)
    first = pd.Timestamp(d["first_date"]) if d.get("first_date") else idx[0]
    last = pd.Timestamp(d["last_date"]) if d.get("last_date") else idx[-1]
    return first, last


def common_period(runs: list[RunData], labels: list[str], align: bool) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The common period when ``align`` and the runs differ; ``None`` when they all match.

    Raises
    ------
    ResultsError
        Periods differ and ``align`` is false, or the runs do not overlap.
    """
    periods = [_period(r) for r in runs]
    if len(set(periods)) <= 1:
        return None
    start = max(p[0] for p in periods)
    end = min(p[1] for p in periods)
    listing = "; ".join(f"{lbl} {a.date()} → {b.date()}" for lbl, (a, b) in zip(labels, periods, strict=True))
    if start > end:
        raise ResultsError(f"compare: runs do not overlap in time ({listing})")
    if not align:
        raise ResultsError(f"compare: runs cover different periods ({listing}); "
                           f"pass --align to compare over the common period {start.date()} → {end.date()}")
    return start, end


def trim_run(run: RunData, start: pd.Timestamp, end: pd.Timestamp) -> RunData:
    """Restrict a run to ``[start, end]`` and recompute its metrics there."""
    r = run.returns.loc[(run.returns.index >= start) & (run.returns.index <= end)]
    if len(r) < 2:
        raise ResultsError(f"{run.folder}: fewer than 2 trading days in the common period {start.date()} → {end.date()}")
    days = pd.DatetimeIndex(r.index)
    rf = run.rf.reindex(days).fillna(0.0)

    def cut(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "date" not in frame.columns:
            return frame
        d = pd.DatetimeIndex(frame["date"])
        return frame.loc[(d >= start) & (d <= end)]

    costs = cut(run.costs)
    turnover = None
    if costs is not None and not costs.empty:
        turnover = costs.pivot_table(index="date", columns="strategy", values="turnover", aggfunc="sum")
        turnover.index = pd.DatetimeIndex(turnover.index)
        turnover = turnover.reindex(days).fillna(0.0)
        turnover.columns = [str(c) for c in turnover.columns]
        costs = rebase_costs(run.costs.loc[pd.DatetimeIndex(run.costs["date"]) <= end], run.returns, days[0])
    metrics = run_metrics_table(r, rf, turnover, benchmark=run.benchmark_of(), costs=costs)
    regimes = run.regimes.loc[(run.regimes.index >= start) & (run.regimes.index <= end)] if run.regimes is not None else None
    rm = (regime_metrics(r, regimes["regime"].reindex(days), rf, turnover)
          if regimes is not None and "regime" in regimes else run.regime_metrics.iloc[0:0])
    stress = [(d, t) for d, t in run.stress if start <= d <= end]
    notes = list(run.notes)
    if _period(run) != (start, end):
        notes.append(f"{run.prov.get('name', run.folder.name)}: restricted to {days[0].date()} → {days[-1].date()} "
                     f"(metrics recomputed; optional tables such as event studies and scenarios are not)")
    return RunData(folder=run.folder, prov=run.prov, config=run.config, metrics=metrics, regime_metrics=rm,
                   returns=r, rf=rf, positions=cut(run.positions), positions_kind=run.positions_kind, costs=costs,
                   regimes=regimes, extras=run.extras, stress=stress, notes=notes, benchmarks=run.benchmarks)


def _prefix(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    out = frame.copy()
    if "strategy" in out.columns:
        out["strategy"] = label + "/" + out["strategy"].astype(str)
    else:
        out.insert(0, "run", label)
    return out


def merge_runs(runs: list[RunData], labels: list[str]) -> RunData:
    """One :class:`RunData` holding the strategies of all runs as ``label/strategy``."""
    first = runs[0]
    rets, rfs, mets, rms, costs, weights = [], {}, [], [], [], {}
    extras: dict[str, list[pd.DataFrame]] = {}
    notes: list[str] = []
    bench: dict[str, str] = {}
    for run, lbl in zip(runs, labels, strict=True):
        ren = {s: f"{lbl}/{s}" for s in run.strategies}
        bench.update({ren[s]: ren[b] for s, b in run.benchmark_of().items()})
        rets.append(run.returns.rename(columns=ren))
        for s in run.strategies:
            rfs[ren[s]] = run.rf
        m = run.metrics.copy()
        m.index = [f"{lbl}/{s}" for s in m.index]
        mets.append(m)
        if run.regime_metrics is not None and not run.regime_metrics.empty:
            rms.append(_prefix(run.regime_metrics, lbl))
        if run.costs is not None:
            costs.append(_prefix(run.costs, lbl))
        for s, w in positions_frames(run).items():
            weights[f"{lbl}/{s}"] = w
        for key, frame in run.extras.items():
            extras.setdefault(key, []).append(_prefix(frame, lbl))
        notes.extend(run.notes)
    returns = pd.concat(rets, axis=1, join="outer").sort_index()
    returns.index.name = "date"
    metrics = pd.concat(mets)
    metrics.index.name = "strategy"
    days = pd.DatetimeIndex(returns.index)
    rf = pd.DataFrame({k: v.reindex(days) for k, v in rfs.items()}, index=days)
    merged = RunData(
        folder=first.folder, prov={"name": "comparison"}, config=first.config, metrics=metrics,
        regime_metrics=pd.concat(rms, ignore_index=True) if rms else pd.DataFrame(),
        returns=returns, rf=rf, positions=None, costs=pd.concat(costs, ignore_index=True) if costs else None,
        regimes=first.regimes, extras={k: pd.concat(v, ignore_index=True) for k, v in extras.items()},
        stress=first.stress, notes=notes, weight_frames=weights, benchmarks=bench,
    )
    return merged


def resolve_baseline(baseline: str | None, labels: list[str], runs: list[RunData],
                     keep: list[str] | None = None, what: str = "baseline") -> str:
    """The ``label/strategy`` of the baseline (default: the first strategy of the first run).

    Accepts ``run/strategy``, a strategy name unique across runs, or a run label (its first
    strategy). ``what`` names the option in the error (``baseline`` or ``benchmark``).
    """
    full = [f"{lbl}/{s}" for lbl, r in zip(labels, runs, strict=True) for s in r.strategies]
    if keep is not None:
        full = [f for f in full if f in keep]
    if baseline is None:
        return full[0]
    if baseline in full:
        return baseline
    by_strategy = [f for f in full if f.split("/", 1)[1] == baseline]
    if len(by_strategy) == 1:
        return by_strategy[0]
    if baseline in labels:
        i = labels.index(baseline)
        mine = [f for f in full if f.startswith(f"{labels[i]}/")]
        if mine:
            return mine[0]
    hint = ", ".join(full)
    why = "is ambiguous" if by_strategy else "is not a run/strategy of these runs"
    raise ResultsError(f"compare: {what} {baseline!r} {why}; choose one of: {hint}")


def runs_header_html(runs: list[RunData], labels: list[str], baseline: str,
                     aligned: tuple[pd.Timestamp, pd.Timestamp] | None) -> str:
    """Header of a comparison page: one column per run, differing settings highlighted."""
    rows: list[tuple[str, list[str], list[str]]] = []  # (label, html cells, raw values)

    def add(name: str, cells: list[str], raw: list[str] | None = None) -> None:
        rows.append((name, cells, raw if raw is not None else cells))

    add("run id", [f"<code>{esc(clean_run_id(r.prov, r.folder))}</code>" for r in runs], [])
    add("data", [source_html(r.prov) for r in runs])
    add("period", [esc(f"{a.date()} → {b.date()}") for a, b in (_period(r) for r in runs)])
    add("config hash", [f"<code>{esc(r.prov.get('config_hash', '?'))}</code>" for r in runs], [])
    items = [dict(settings_items(r.prov)) for r in runs]
    for key in items[0]:
        add(key, [esc(i.get(key, "?")) for i in items])
    add("strategies", [esc(", ".join(r.strategies)) for r in runs])
    head = "".join(f"<th>{esc(lbl)}</th>" for lbl in labels)
    body = []
    for name, cells, raw in rows:
        differs = bool(raw) and len(set(raw)) > 1
        tds = "".join(f'<td class="txt{" diff" if differs else ""}">{c}</td>' for c in cells)
        body.append(f'<tr><th scope="row" class="name">{esc(name)}</th>{tds}</tr>')
    synth = any((r.prov.get("data") or {}).get("synthetic") for r in runs)
    banner = ('<div class="banner">Synthetic data: at least one run uses a generated sample market, '
              "not real prices.</div>") if synth else ""
    align_txt = (f' Aligned to the common period {aligned[0].date()} → {aligned[1].date()} (metrics recomputed).'
                 if aligned else "")
    fit = ("<style>table.runs td.txt{white-space:normal;overflow-wrap:anywhere;min-width:9em;max-width:30em}"
           "table.runs{table-layout:auto}</style>")
    return (f'{fit}{banner}<h1>Comparison <span class="sub">{esc(" vs ".join(labels))}</span></h1>'
            f'<div class="scroll"><table class="data runs"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>'
            f'<p class="muted">Strategies are labelled <code>run/strategy</code>; settings that differ between runs '
            f'are highlighted. Deltas are against <b>{esc(baseline)}</b>.{esc(align_txt)}</p>')


@dataclass
class Comparison:
    """A rendered comparison: the page and what it was built from."""

    html: str
    data: RunData
    baseline: str
    labels: list[str]
    aligned: tuple[pd.Timestamp, pd.Timestamp] | None
    deltas: pd.DataFrame | None = None
    run_deltas: pd.DataFrame | None = None
    benchmarks: dict[str, str] | None = None


def build_compare(runs: list[RunData], baseline: str | None = None, align: bool = False,
                  strategies: list[str] | None = None, notes: list[str] | None = None,
                  benchmark: str | None = None) -> Comparison:
    """Build the comparison page of loaded runs.

    Parameters
    ----------
    runs : list of RunData
        Loaded runs.
    baseline : str, optional
        ``run/strategy`` or a strategy name unique across runs (default: the first strategy).
    align : bool
        Restrict runs to their common period.
    strategies : list of str, optional
        Keep only these strategies (``run/strategy`` labels or bare names).
    notes : list of str, optional
        Extra notes shown on the page (e.g. folders given twice).
    benchmark : str, optional
        ``run/strategy`` (or a strategy name unique across runs, or a run label) every
        strategy's relative metrics are measured against; default: each run's own
        ``benchmark``.
    """
    labels = run_labels(runs)
    aligned = common_period(runs, labels, align)
    if aligned is not None:
        runs = [trim_run(r, *aligned) for r in runs]
    full = [f"{lbl}/{s}" for lbl, r in zip(labels, runs, strict=True) for s in r.strategies]
    keep = select_strategies(full, strategies)
    base = resolve_baseline(baseline, labels, runs, keep)
    data = merge_runs(runs, labels)
    if benchmark is not None:
        bench = resolve_baseline(benchmark, labels, runs, what="benchmark")
        data.benchmarks = {s: bench for s in data.strategies}
    # relative metrics and cost drags of every strategy, the same way for every run (older
    # run folders lack the columns; --benchmark changes the reference)
    data.metrics = data.metrics.drop(columns=[*RELATIVE_COLUMNS, *COST_DRAG_COLUMNS], errors="ignore").join(
        relative_table(data.returns, data.benchmark_of())).join(cost_drag_table(data.costs, data.returns))
    if keep != full:
        data = filter_data(data, keep)
    data.notes[:0] = list(notes or [])
    per_run = [[f.split("/", 1)[1] for f in keep if f.split("/", 1)[0] == lbl] for lbl in labels]
    rd = run_deltas(data.metrics, labels, per_run)
    page = Page(title=f"rmpbt comparison: {' vs '.join(labels)}")
    page.notes.extend(data.notes)
    if len({str(r.prov.get("settings", {}).get("regime_model")) for r in runs}) > 1:
        page.notes.append(f"runs use different regime models; bands and stress dates are those of {labels[0]}")
    add_sections(page, data, baseline=base)
    if rd is not None:
        page.add("run-deltas", f"Run against run (each run minus {labels[0]})", run_deltas_html(rd))
    html = page.render(runs_header_html(runs, labels, base, aligned), footer_html())
    return Comparison(html, data, base, labels, aligned, deltas(data.metrics, base), rd, data.benchmark_of())


def render_compare(
    run_dirs: list[str | Path],
    out: str | Path | None = None,
    baseline: str | None = None,
    align: bool = False,
    strategies: list[str] | None = None,
    benchmark: str | None = None,
) -> tuple[Path, Comparison]:
    """Write the comparison page of ``run_dirs`` and return its path.

    Parameters
    ----------
    run_dirs : list of str or Path
        Run folders.
    out : str or Path, optional
        Output file (default: ``compare.html`` in the results root holding the first run).
    baseline : str, optional
        ``run/strategy`` whose metrics the deltas are taken against (default: the first).
    align : bool
        Restrict all runs to their common period instead of refusing different periods.
    strategies : list of str, optional
        Keep only these strategies (``run/strategy`` labels or bare names).
    benchmark : str, optional
        The strategy every relative metric is measured against (default: each run's own).

    Returns
    -------
    path : Path
        The page written.
    comparison : Comparison
        What it shows.

    Raises
    ------
    ResultsError
        Bad run folders, different periods without ``align``, unknown baseline, unwritable output.
    """
    paths, notes = dedupe_paths(list(run_dirs))
    if out is not None and (not str(out).strip() or Path(out).is_dir()):
        what = "is empty" if not str(out).strip() else "is an existing folder"
        raise ResultsError(f"--out {str(out)!r}: {what}; give the page's file name (e.g. compare.html)")
    runs = load_runs(paths)
    comp = build_compare(runs, baseline=baseline, align=align, strategies=strategies, notes=notes,
                         benchmark=benchmark)
    target = Path(out) if out is not None else new_page_name(Path(run_dirs[0]).resolve().parent)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, comp.html)
    except OSError as exc:
        raise ResultsError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, comp


__all__ = ["Comparison", "build_compare", "dedupe_paths", "deltas", "load_runs", "merge_runs", "render_compare",
           "resolve_baseline", "run_deltas", "run_labels", "select_strategies"]
