"""Reports of run folders: the HTML tearsheet, PNG charts and multi-run comparison pages.

This package is the only place that imports plotly and matplotlib.
"""

from __future__ import annotations

from backtest.report.tearsheet import (
    RunData,
    build_tearsheet,
    load_run,
    render_run,
    render_tearsheet,
)

__all__ = ["RunData", "build_tearsheet", "load_run", "render_run", "render_tearsheet", "render_compare"]


def render_compare(*args, **kwargs):
    """Write a comparison page of several run folders (see :func:`backtest.report.compare.render_compare`)."""
    from backtest.report.compare import render_compare as _render_compare

    return _render_compare(*args, **kwargs)
