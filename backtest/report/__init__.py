"""Reports of run folders: the HTML tearsheet, PNG charts and multi-run comparison pages.

This package is the only place that imports plotly and matplotlib. Its names are loaded
lazily, so importing a sibling module (e.g. ``backtest.report.regime_chart``) does not
pull in plotly.

``render_run(folder, html=True, png=True)`` writes ``tearsheet.html``, ``equity.png`` and
``drawdown.png`` into a run folder; ``render_compare(run_dirs, out, baseline, align)``
writes a comparison page of several runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "PngJob": "backtest.report.tearsheet",
    "RunData": "backtest.report.tearsheet",
    "build_tearsheet": "backtest.report.tearsheet",
    "load_run": "backtest.report.tearsheet",
    "render_run": "backtest.report.tearsheet",
    "render_tearsheet": "backtest.report.tearsheet",
    "build_compare": "backtest.report.compare",
    "render_compare": "backtest.report.compare",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first use."""
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
