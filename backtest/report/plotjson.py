"""Serialisation of report figures into one page: shared date arrays and page JSON."""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.json import to_json_plotly

from backtest.report.plotstyle import PALETTE

__all__ = ["DateTable", "figure_payload", "page_template_json", "to_json"]



class DateTable:
    """Date arrays shared between traces: each distinct index is written once."""

    def __init__(self) -> None:
        self.arrays: dict[str, list[str]] = {}
        self._keys: dict[bytes, str] = {}

    def ref(self, arr: np.ndarray) -> str:
        """Key (``@dN``) of a ``datetime64`` array, registering it if new."""
        days = arr.astype("datetime64[D]")
        digest = hashlib.blake2b(days.view("i8").tobytes(), digest_size=16).digest()
        key = self._keys.get(digest)
        if key is None:
            key = f"d{len(self._keys)}"
            self._keys[digest] = key
            self.arrays[key] = np.datetime_as_string(days, unit="D").tolist()
        return "@" + key


def figure_payload(fig: go.Figure, dates: DateTable, min_shared: int = 30) -> dict:
    """Plain JSON-ready dict of a figure: template dropped, long date arrays shared.

    Parameters
    ----------
    fig : go.Figure
        The figure.
    dates : DateTable
        Shared date arrays of the page.
    min_shared : int
        Date arrays at least this long are replaced by a ``"@dN"`` reference; shorter ones
        are written inline as ``YYYY-MM-DD`` strings.
    """
    d = fig.to_plotly_json()
    d.get("layout", {}).pop("template", None)
    for trace in d.get("data", []):
        for k in ("x", "y"):
            v = trace.get(k)
            if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.datetime64):
                trace[k] = (dates.ref(v) if len(v) >= min_shared
                            else np.datetime_as_string(v.astype("datetime64[D]"), unit="D").tolist())
    return d


def page_template_json() -> dict:
    """The shared plotly template of a page (``plotly_white`` with the strategy colourway)."""
    t = pio.templates["plotly_white"].to_plotly_json()
    t.setdefault("layout", {})["colorway"] = list(PALETTE)
    return t


def to_json(obj: object) -> str:
    """JSON for embedding in a ``<script>`` element (numpy-aware, ``<`` escaped)."""
    return to_json_plotly(obj).replace("<", "\\u003c")
