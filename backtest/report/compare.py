"""One HTML page comparing the strategies of several run folders (``rmpbt compare``).

Strategies are labelled ``<run label>/<strategy>``; the run label is the run's name, made
unique with the config hash (or the run id) when two runs share a name. Runs must cover
the same period unless ``align=True``, which restricts every run to the common period and
recomputes metrics there. Metric deltas are shown against a baseline strategy.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from backtest.errors import ResultsError
from backtest.metrics import metrics_table, regime_metrics
from backtest.report.tearsheet import (
    Page,
    RunData,
    add_sections,
    clean_run_id,
    esc,
    footer_html,
    load_run,
    positions_frames,
    settings_items,
    source_html,
    write_text_atomic,
)
from backtest.results import check_run_dir

DEFAULT_NAME = "compare.html"


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
        runs.append(load_run_checked(path))
    return runs


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
    """Unique, short label per run: its name, then ``name@hash6``, then the run id."""
    names = [str(r.prov.get("name") or r.folder.name) for r in runs]
    dup = Counter(names)
    labels = [n if dup[n] == 1 else f"{n}@{str(r.prov.get('config_hash', ''))[:6]}" for n, r in zip(names, runs, strict=True)]
    dup = Counter(labels)
    return [lbl if dup[lbl] == 1 else clean_run_id(r.prov, r.folder) for lbl, r in zip(labels, runs, strict=True)]


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
    metrics = metrics_table(r, rf, turnover)
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
                   regimes=regimes, extras=run.extras, stress=stress, notes=notes)


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
    for run, lbl in zip(runs, labels, strict=True):
        ren = {s: f"{lbl}/{s}" for s in run.strategies}
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
        stress=first.stress, notes=notes, weight_frames=weights,
    )
    return merged


def resolve_baseline(baseline: str | None, labels: list[str], runs: list[RunData]) -> str:
    """The ``label/strategy`` of the baseline (default: the first strategy of the first run).

    Accepts ``run/strategy``, a strategy name unique across runs, or a run label (its first
    strategy).
    """
    full = [f"{lbl}/{s}" for lbl, r in zip(labels, runs, strict=True) for s in r.strategies]
    if baseline is None:
        return full[0]
    if baseline in full:
        return baseline
    by_strategy = [f for f in full if f.split("/", 1)[1] == baseline]
    if len(by_strategy) == 1:
        return by_strategy[0]
    if baseline in labels:
        i = labels.index(baseline)
        return f"{labels[i]}/{runs[i].strategies[0]}"
    hint = ", ".join(full[:8]) + (", ..." if len(full) > 8 else "")
    what = "is ambiguous" if by_strategy else "is not a run/strategy of these runs"
    raise ResultsError(f"compare: baseline {baseline!r} {what}; choose one of: {hint}")


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
    return (f'{banner}<h1>Comparison <span class="sub">{esc(" vs ".join(labels))}</span></h1>'
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


def build_compare(runs: list[RunData], baseline: str | None = None, align: bool = False) -> Comparison:
    """Build the comparison page of loaded runs."""
    labels = run_labels(runs)
    aligned = common_period(runs, labels, align)
    if aligned is not None:
        runs = [trim_run(r, *aligned) for r in runs]
    base = resolve_baseline(baseline, labels, runs)
    data = merge_runs(runs, labels)
    page = Page(title=f"rmpbt comparison: {' vs '.join(labels)}")
    page.notes.extend(data.notes)
    if len({str(r.prov.get("settings", {}).get("regime_model")) for r in runs}) > 1:
        page.notes.append(f"runs use different regime models; bands and stress dates are those of {labels[0]}")
    add_sections(page, data, baseline=base)
    html = page.render(runs_header_html(runs, labels, base, aligned), footer_html())
    return Comparison(html, data, base, labels, aligned)


def render_compare(
    run_dirs: list[str | Path],
    out: str | Path | None = None,
    baseline: str | None = None,
    align: bool = False,
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
    runs = load_runs(list(run_dirs))
    comp = build_compare(runs, baseline=baseline, align=align)
    target = Path(out) if out is not None else Path(run_dirs[0]).resolve().parent / DEFAULT_NAME
    if target.is_dir():
        target = target / DEFAULT_NAME
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, comp.html)
    except OSError as exc:
        raise ResultsError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target, comp


__all__ = ["Comparison", "build_compare", "load_runs", "merge_runs", "render_compare", "resolve_baseline", "run_labels"]
