"""Figures given as plain plotly JSON: many traces without plotly's per-property validation.

``go.Figure`` validates every property of every trace (about 3 ms a trace); a page with a
thousand traces (the evidence page's event paths: instruments x event kinds x 3) would
spend seconds on it. :class:`RawFigure` holds the same trace and layout dicts and hands
them to :meth:`backtest.report.html.Page.figure` as they are; the tests build a
``go.Figure`` from each raw figure once, so a wrong property still fails there.
"""

from __future__ import annotations

from typing import Any


class RawFigure:
    """Trace dicts and a layout dict with the one method the page writer calls (``to_plotly_json``)."""

    def __init__(self, data: list[dict[str, Any]], layout: dict[str, Any]) -> None:
        self.data, self.layout = data, layout

    def to_plotly_json(self) -> dict[str, Any]:
        """``{"data": [...], "layout": {...}}`` (shared, not copied)."""
        return {"data": self.data, "layout": self.layout}

    def update_axes(self, prefix: str, **props: Any) -> None:
        """Set ``props`` on every layout axis whose key starts with ``prefix`` (``xaxis`` / ``yaxis``)."""
        keys = [k for k in self.layout if k.startswith(prefix)] or [prefix]
        for k in keys:
            self.layout.setdefault(k, {}).update(props)
