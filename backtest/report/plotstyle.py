"""Shared look and data helpers of the report figures: colours, regime bands, layout.

Colours (strategy palette, regime bands), :class:`Band` and :func:`regime_bands`, the
common plotly layout, compact array conversions (:func:`f32`, :func:`date_values`) and
the return transforms every chart uses (:func:`wealth`, :func:`drawdowns`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.report import palette as P

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1", "#636363",
)
ASSET_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    "#a6761d", "#666666", "#8dd3c7", "#fb8072",
)
REGIME_COLORS = {
    "qe": "rgba(44,160,44,0.13)",
    "qt": "rgba(214,39,40,0.11)",
    "rmp": "rgba(148,103,189,0.18)",
    "plateau": "rgba(127,127,127,0.07)",
}
REGIME_SOLID = {"qe": "#2ca02c", "qt": "#d62728", "rmp": "#9467bd", "plateau": "#9a9a9a"}
EXTRA_REGIME_COLORS = ("rgba(23,190,207,0.13)", "rgba(188,189,34,0.15)", "rgba(255,127,14,0.12)")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PLOT_CONFIG = {"responsive": True, "displaylogo": False,
               "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
BASE_FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
             "size": 12}


@dataclass(frozen=True)
class Band:
    """A contiguous stretch of one regime, drawn as a shaded band."""

    start: pd.Timestamp
    end: pd.Timestamp
    kind: str
    label: str


def color_map(names: list[str]) -> dict[str, str]:
    """A stable colour per strategy, in order of appearance."""
    return P.color_map(names)  # 8 colours x 3 dashes: see backtest.report.palette


def regime_color(kind: str, solid: bool = False) -> str:
    """Fill (or solid) colour of a regime kind; unknown kinds get a stable extra colour."""
    table = REGIME_SOLID if solid else REGIME_COLORS
    if kind in table:
        return table[kind]
    h = int(hashlib.md5(kind.encode()).hexdigest(), 16) % len(EXTRA_REGIME_COLORS)
    return "#17becf" if solid else EXTRA_REGIME_COLORS[h]


def regime_bands(regimes: pd.DataFrame | None) -> list[Band]:
    """Contiguous runs of the same regime (kind and id) over the run's days.

    Parameters
    ----------
    regimes : pd.DataFrame or None
        Indexed by date, with ``regime`` and optionally ``regime_id``.

    Returns
    -------
    list[Band]
        Each band ends where the next one starts (the last ends on the last day), so the
        shading has no gaps over weekends. ``GAP``/``PRE`` ids are labelled by their kind.
    """
    if regimes is None or regimes.empty or "regime" not in regimes:
        return []
    kind = regimes["regime"].astype(str).fillna("unknown").to_numpy()
    rid = regimes["regime_id"].astype(str).to_numpy() if "regime_id" in regimes else kind
    key = np.char.add(np.char.add(kind.astype(str), "|"), rid.astype(str))
    change = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    idx = pd.DatetimeIndex(regimes.index)
    bands = []
    for j, i in enumerate(change):
        end = idx[change[j + 1]] if j + 1 < len(change) else idx[-1]
        label = rid[i] if rid[i] not in ("GAP", "PRE", "nan", "None", "<NA>") else kind[i]
        bands.append(Band(idx[i], end, str(kind[i]), str(label)))
    return bands


def date_values(idx: pd.Index) -> np.ndarray:
    """Dates of ``idx`` as a ``datetime64[D]`` array (the page shares long ones)."""
    return pd.DatetimeIndex(idx).to_numpy().astype("datetime64[D]")


def f32(values: object, digits: int | None = None) -> np.ndarray:
    """``float32`` array of ``values`` (optionally rounded first): compact in the page JSON."""
    arr = np.asarray(values, dtype=np.float64)
    if digits is not None:
        arr = np.round(arr, digits)
    return arr.astype(np.float32)


def scatter(**props: object) -> dict:
    """A scatter trace as a plain dict, validated once when the ``go.Figure`` is built.

    ``go.Figure([go.Scatter(...)])`` validates every trace twice (once in ``go.Scatter``,
    again, after a deep copy, in the figure); a dict is validated only by the figure, into
    the same trace. Use it for traces that go straight into ``go.Figure`` / ``add_trace``.
    """
    return {"type": "scatter", **props}


def heatmap(**props: object) -> dict:
    """A heatmap trace as a plain dict (see :func:`scatter`)."""
    return {"type": "heatmap", **props}


def base_layout(title: str | None = None, height: int = 420, **kw: object) -> dict:
    """The common plotly layout of every figure (``kw`` overrides keys)."""
    lay = {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 56 if title else 30, "b": 40},
        "font": BASE_FONT,
        "hovermode": "x unified",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }
    if title:
        lay["title"] = {"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top",
                        "font": {"size": 14}}
    lay.update(kw)
    return lay


def legend_rows(names: list[str], width_px: int = 1200) -> int:
    """Rough number of rows a horizontal legend of ``names`` takes."""
    per = max(1, width_px // max(60, 7 * max((len(str(n)) for n in names), default=5) + 40))
    return -(-len(names) // per)


def clean_returns(r: pd.Series) -> pd.Series:
    """Drop leading NaN (not yet invested) and count inner NaN as 0 (metrics convention)."""
    fv = r.first_valid_index()
    return r.loc[fv:].fillna(0.0) if fv is not None else r.iloc[0:0]


def wealth(returns: pd.DataFrame) -> pd.DataFrame:
    """Growth of 1 per strategy (NaN before a strategy starts)."""
    out = {}
    for c in returns.columns:
        r = clean_returns(returns[c])
        out[c] = (1.0 + r).cumprod()
    return pd.DataFrame(out, index=returns.index)


def drawdowns(returns: pd.DataFrame) -> pd.DataFrame:
    """Drawdown path per strategy (wealth over its running peak, starting from 1, minus 1)."""
    w = wealth(returns)
    peak = w.cummax().clip(lower=1.0)
    return w / peak - 1.0


def regime_decor(
    bands: list[Band],
    stress: list[tuple[pd.Timestamp, str]] | None = None,
    labels: bool = True,
    min_label_share: float = 0.035,
    xref: str = "x",
    yref: str = "paper",
) -> tuple[list[dict], list[dict]]:
    """Layout shapes and annotations shading regime bands and marking stress dates.

    Parameters
    ----------
    bands : list[Band]
        From :func:`regime_bands`.
    stress : list of (date, label), optional
        Stress events drawn as dotted vertical lines with a rotated label.
    labels : bool
        Write the regime id at the top of bands wide enough to hold it (and stress labels).
    min_label_share : float
        Minimum band width, as a share of the whole span, for a label.
    xref, yref : str
        Axis references (``"y2 domain"`` for the second panel of a stacked figure).

    Returns
    -------
    shapes, annotations : list[dict]
    """
    if not bands:
        return [], []
    span = (bands[-1].end - bands[0].start).days or 1
    shapes: list[dict] = []
    notes: list[dict] = []
    for b in bands:
        shapes.append({"type": "rect", "xref": xref, "yref": yref, "x0": b.start.strftime("%Y-%m-%d"),
                       "x1": b.end.strftime("%Y-%m-%d"), "y0": 0, "y1": 1, "line": {"width": 0},
                       "fillcolor": regime_color(b.kind), "layer": "below"})
        if labels and (b.end - b.start).days / span >= min_label_share:
            mid = b.start + (b.end - b.start) / 2
            notes.append({"xref": xref, "yref": yref, "x": mid.strftime("%Y-%m-%d"), "y": 1.0,
                          "yanchor": "top", "showarrow": False, "text": b.label,
                          "font": {"size": 10, "color": regime_color(b.kind, solid=True)}})
    for d, text in stress or []:
        if d < bands[0].start or d > bands[-1].end:
            continue
        ds = pd.Timestamp(d).strftime("%Y-%m-%d")
        shapes.append({"type": "line", "xref": xref, "yref": yref, "x0": ds, "x1": ds, "y0": 0, "y1": 0.93,
                       "line": {"width": 1, "dash": "dot", "color": "rgba(80,80,80,0.7)"}})
        if labels:
            notes.append({"xref": xref, "yref": yref, "x": ds, "y": P.label_y(len(notes)), "yanchor": "bottom",
                          "xanchor": "right", "textangle": -90, "showarrow": False, "text": text,
                          "font": {"size": 9, "color": "#555"}})
    return shapes, notes


def sample_dates(idx: pd.DatetimeIndex, max_points: int = 600) -> pd.DatetimeIndex:
    """Last trading day of each week (or month, if weeks would exceed ``max_points``)."""
    idx = pd.DatetimeIndex(idx)
    if len(idx) <= max_points:
        return idx
    s = pd.Series(idx, index=idx)
    weekly = s.groupby(idx.to_period("W")).max()
    if len(weekly) <= max_points:
        return pd.DatetimeIndex(weekly.to_numpy())
    return pd.DatetimeIndex(s.groupby(idx.to_period("M")).max().to_numpy())


def regime_order(kind: str) -> tuple[int, str]:
    """Sort key of a regime kind: qe, plateau, qt, rmp, then any other by name."""
    order = {"qe": 0, "plateau": 1, "qt": 2, "rmp": 3}
    return (order.get(kind, 9), kind)


def rgb_triplet(color: str) -> str:
    """``"r,g,b"`` of a ``#rrggbb`` colour (plotly blue for anything else)."""
    c = color.lstrip("#")
    if len(c) != 6:
        return "31,119,180"
    return ",".join(str(int(c[i:i + 2], 16)) for i in (0, 2, 4))
