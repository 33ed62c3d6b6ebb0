"""Static PNG charts of a run (``equity.png``, ``drawdown.png``) with matplotlib's Agg canvas.

No pyplot: figures are built on :class:`matplotlib.figure.Figure` with an explicit Agg
canvas, so no global backend or interactive state is touched.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from backtest.report import figures as F
from backtest.report.rundata import RunData

DPI = 110
SIZE = (11.0, 5.0)


def _shade(ax, bands: list[F.Band], labels: bool) -> None:
    if not bands:
        return
    span = (bands[-1].end - bands[0].start).days or 1
    for b in bands:
        color = F.regime_color(b.kind, solid=True)
        ax.axvspan(b.start, b.end, color=color, alpha=0.10 if b.kind != "plateau" else 0.05, lw=0, zorder=0)
        if labels and (b.end - b.start).days / span >= 0.045:
            mid = b.start + (b.end - b.start) / 2
            ax.text(mid, 0.985, b.label, transform=ax.get_xaxis_transform(), ha="center", va="top",
                    fontsize=7, color=color)


def _stress(ax, stress: list[tuple[pd.Timestamp, str]]) -> None:
    for d, label in stress:
        ax.axvline(d, color="#555", lw=0.7, ls=":", zorder=1)
        ax.text(d, 0.02, label, transform=ax.get_xaxis_transform(), rotation=90, ha="right", va="bottom",
                fontsize=6.5, color="#555")


FALLBACK_FONTS = ("DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans CJK SC", "WenQuanYi Zen Hei",
                  "Droid Sans Fallback", "Arial Unicode MS")


@lru_cache(maxsize=1)
def _coverage() -> tuple[tuple[str, ...], frozenset[int]]:
    """Installed fallback fonts and the code points they cover together."""
    from matplotlib import font_manager as fm
    from matplotlib.ft2font import FT2Font

    names = {f.name: f.fname for f in fm.fontManager.ttflist}
    fams = tuple(n for n in FALLBACK_FONTS if n in names) or ("DejaVu Sans",)
    cover: set[int] = set()
    for n in fams:
        try:
            cover.update(FT2Font(names.get(n) or fm.findfont(n)).get_charmap())
        except (OSError, RuntimeError, ValueError):
            continue
    return fams, frozenset(cover)


def cover_glyphs(fig: Figure) -> None:
    """Use the installed fallback fonts; replace characters none of them has with ``?``.

    Strategy names may be in any script: without this, matplotlib prints one "Glyph ...
    missing from font" warning per character on stderr.
    """
    from matplotlib.text import Text

    fams, cover = _coverage()
    for t in fig.findobj(Text):
        s = t.get_text()
        if "$" in s and "\\$" not in s:  # a name is text, never mathtext
            s = s.replace("$", "\\$")
            t.set_text(s)
        if s and any(ord(c) not in cover and c not in "\n\t" for c in s):
            t.set_text("".join(c if ord(c) in cover or c in "\n\t" else "?" for c in s))
        if fams != ("DejaVu Sans",):
            t.set_fontfamily(list(fams))


def _finish(fig: Figure, ax, title: str, path: Path, n_series: int) -> None:
    loc = AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(loc))
    ax.grid(True, color="#e6e6e6", lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="upper left", fontsize=8, frameon=False, ncol=min(4, max(1, n_series)))
    fig.subplots_adjust(left=0.075, right=0.985, top=0.91, bottom=0.1)
    cover_glyphs(fig)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": "rmpbt"})


def equity_png(data: RunData, path: Path) -> None:
    """Growth of 1 per strategy (log scale when wealth spans more than 3x), regime bands shaded."""
    w = F.wealth(data.returns)
    bands = F.regime_bands(data.regimes.reindex(data.returns.index) if data.regimes is not None else None)
    colors = F.color_map(data.strategies)
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    _shade(ax, bands, labels=True)
    _stress(ax, data.stress)
    for c in w.columns:
        ax.plot(w.index, w[c].to_numpy(), lw=1.2, color=colors[c], label=c)
    lo, hi = float(w.min().min()), float(w.max().max())
    log = lo > 0 and hi / lo > 3
    if log:
        ax.set_yscale("log")
    name = data.prov.get("name", "run")
    synth = " — SYNTHETIC data" if (data.prov.get("data") or {}).get("synthetic") else ""
    ax.set_ylabel("growth of 1" + (" (log)" if log else ""))
    _finish(fig, ax, f"{name}: equity{synth}", path, len(w.columns))


def drawdown_png(data: RunData, path: Path) -> None:
    """Drawdown from the running peak per strategy, regime bands shaded."""
    dd = F.drawdowns(data.returns)
    bands = F.regime_bands(data.regimes.reindex(data.returns.index) if data.regimes is not None else None)
    colors = F.color_map(data.strategies)
    fig = Figure(figsize=(SIZE[0], 3.8))
    ax = fig.add_subplot()
    _shade(ax, bands, labels=False)
    for c in dd.columns:
        ax.plot(dd.index, dd[c].to_numpy(), lw=1.0, color=colors[c], label=c)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("drawdown")
    synth = " — SYNTHETIC data" if (data.prov.get("data") or {}).get("synthetic") else ""
    _finish(fig, ax, f"{data.prov.get('name', 'run')}: drawdown{synth}", path, len(dd.columns))


def write_pngs(data: RunData, folder: Path) -> list[Path]:
    """Write ``equity.png`` and ``drawdown.png`` into ``folder``; return their paths."""
    folder = Path(folder)
    out = [folder / "equity.png", folder / "drawdown.png"]
    equity_png(data, out[0])
    drawdown_png(data, out[1])
    return out
