"""PNG chart of liquidity signals with regime bands (matplotlib, Agg canvas).

Uses ``matplotlib.figure.Figure`` with an explicit Agg canvas: no ``pyplot``, no global
state, safe in threads and on headless machines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

REGIME_COLORS = {"qe": "#2ca02c", "plateau": "#bbbbbb", "qt": "#d62728", "rmp": "#1f77b4"}
DEFAULT_PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("balance-sheet flow, bn USD (13w change)", ("walcl_chg_13w", "treast_chg_13w")),
    ("net liquidity and reserves, bn USD", ("net_liquidity", "reserves")),
    ("funding stress SOFR - IORB, %", ("sofr_iorb",)),
    ("VIX", ("vix",)),
    ("curve 2s10s, %", ("curve_2s10s",)),
)


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) positions (inclusive) of runs of equal values."""
    if not len(values):
        return []
    cut = np.flatnonzero(values[1:] != values[:-1]) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut - 1, [len(values) - 1]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def plot_regimes(
    signals: pd.DataFrame,
    labels: pd.DataFrame,
    path: str | Path,
    title: str = "",
    panels: tuple[tuple[str, tuple[str, ...]], ...] = DEFAULT_PANELS,
    reference: pd.Series | None = None,
) -> Path:
    """Draw signals in stacked panels over coloured regime bands and save a PNG.

    Parameters
    ----------
    signals : pd.DataFrame
        Point-in-time signals per day (columns named in ``panels``; missing ones skipped).
    labels : pd.DataFrame
        ``regime`` per day (same index) and optionally a boolean ``stress``.
    path : str or Path
        Output PNG file.
    title : str
        Figure title.
    panels : tuple
        ``(panel title, signal names)`` per panel.
    reference : pd.Series, optional
        Another labelling (e.g. the calendar) drawn as a thin strip at the bottom.

    Returns
    -------
    Path
        The written file.
    """
    used = [(t, tuple(c for c in cols if c in signals)) for t, cols in panels]
    used = [(t, cols) for t, cols in used if cols]
    n = len(used) + (1 if reference is not None else 0)
    heights = [3.0] * len(used) + ([0.6] if reference is not None else [])
    fig = Figure(figsize=(13, 2.0 * max(n, 1) + 1.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(n, 1), 1, sharex=True, gridspec_kw={"height_ratios": heights or [1.0]}, squeeze=False)[:, 0]
    idx = pd.DatetimeIndex(labels.index)
    reg = labels["regime"].astype(str).to_numpy()
    runs = _runs(reg)
    stress = labels["stress"].fillna(False).astype(bool).to_numpy() if "stress" in labels else None
    for ax, (ptitle, cols) in zip(axes, used, strict=False):
        for s, e in runs:
            ax.axvspan(idx[s], idx[e], color=REGIME_COLORS.get(reg[s], "#eeeeee"), alpha=0.18, lw=0)
        if stress is not None:
            for s, e in _runs(stress):
                if stress[s]:
                    ax.axvspan(idx[s], idx[e], ymin=0.0, ymax=0.04, color="black", alpha=0.7, lw=0)
        for c in cols:
            ax.plot(signals.index, signals[c], lw=0.9, label=c)
        ax.set_title(ptitle, fontsize=9, loc="left")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        ax.grid(alpha=0.3)
    if reference is not None:
        ax = axes[-1]
        ref = reference.reindex(idx).astype(str).to_numpy()
        for s, e in _runs(ref):
            ax.axvspan(idx[s], idx[e], color=REGIME_COLORS.get(ref[s], "#eeeeee"), alpha=0.8, lw=0)
        ax.set_yticks([])
        ax.set_title("reference (calendar)", fontsize=8, loc="left")
    handles = [Patch(color=c, alpha=0.5, label=k) for k, c in REGIME_COLORS.items()]
    if stress is not None:
        handles.append(Patch(color="black", label="stress"))
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out = Path(path)
    fig.savefig(out, format="png")
    return out
