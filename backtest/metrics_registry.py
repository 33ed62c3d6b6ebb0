"""The metrics rmpbt knows, one row each: the one door to add a metric.

:data:`METRICS` maps each column of a run's ``metrics.csv`` (in that order) to a
:class:`MetricInfo` row: its label, its terminal header, its unit, its direction, its
**series form** (one return series -> float) and its **batch form** (many paths or variants
at once, numpy arrays), both as ``"module:function"``, and the views that show it. That one
row drives ``metrics.csv``, the terminal tables of ``rmpbt run``/``compare``/``tune``, the
tearsheet's and the comparison page's tables and their "best value" highlighting, compare's
deltas and the tuner's ``--metric`` choices.

Like :mod:`backtest.data.registry`, the rows name their functions without importing them
(no numpy, no pandas here), so command modules read the registry without getting heavy;
:func:`series_form` and :func:`batch_form` import the function on first use
(``tests/test_metrics_registry.py`` loads every row and checks that each metric's series
and batch forms agree on random series).

Calling conventions, by ``inputs``:

* ``"returns"``: ``series(r)`` of daily simple returns (``series(r, rf)`` when ``excess``:
  Sharpe-type ratios of the excess over the daily cash return ``rf``);
  ``batch(R)`` / ``batch(R, rf)`` of a ``P x T`` array (``rf`` of shape ``(T,)`` or ``P x T``);
* ``"turnover"``: ``series(to)`` of the daily traded value over NAV; ``batch(TO)``;
* ``"relative"``: ``series(r, b)`` against the benchmark's daily returns ``b``;
  ``batch(R, b)`` (``b`` of shape ``(T,)`` or ``P x T``);
* ``"cost"``: ``series(cost, r)`` of a daily cost in money (units of the NAV before the
  first day) and the returns that rebuild the NAV; ``batch(C, R)``.

Adding a metric: one module with the two forms, and one row at the end of :data:`METRICS`
(new columns are appended to ``metrics.csv``). See ``docs/metrics.md``.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["INPUTS", "METRICS", "PCT", "RATIO", "VIEWS", "MetricInfo", "batch_form", "check_metric",
           "metric_names", "pct_metrics", "series_form"]

PCT, RATIO = "pct", "ratio"
#: what a metric's forms take (the calling conventions in the module docstring)
INPUTS = ("returns", "turnover", "relative", "cost")
#: where a metric is shown besides ``metrics.csv`` and the tearsheet's table of its inputs:
#: ``terminal`` the summary tables of run/compare (and tune's out-of-sample table),
#: ``regime`` the tearsheet's per-regime table, ``delta`` compare's differences to a baseline,
#: ``tune`` a choice of ``rmpbt tune --metric`` (ranked by the tuner's window kernel, higher
#: is better), ``best`` its best value is highlighted (risk-adjusted figures only)
VIEWS = ("terminal", "regime", "delta", "tune", "best")


@dataclass(frozen=True)
class MetricInfo:
    """One registered metric (a column of ``metrics.csv``).

    Attributes
    ----------
    label : str
        Header in the HTML tables.
    short : str
        Header in the terminal tables.
    unit : str
        :data:`PCT` (a fraction shown in percent) or :data:`RATIO`.
    direction : int
        +1 higher is better, -1 lower is better, 0 neither (deltas are not coloured).
    series : str
        ``"module:function"`` of the series form.
    batch : str
        ``"module:function"`` of the batch form.
    inputs : str
        One of :data:`INPUTS`.
    excess : bool
        The ``"returns"`` forms also take the daily cash return ``rf``.
    views : tuple of str
        Names of :data:`VIEWS`.
    doc : str
        One line: the definition (``docs/metrics.md`` has the full one).
    """

    label: str
    short: str
    unit: str
    direction: int
    series: str
    batch: str
    inputs: str = "returns"
    excess: bool = False
    views: tuple[str, ...] = ()
    doc: str = ""


_M, _B, _R, _C = "backtest.metrics:", "backtest.metrics_batch:", "backtest.metrics_relative:", "backtest.cost_drag:"

#: every column of a run's ``metrics.csv``, in order: the contract metrics
#: (:data:`backtest.metrics.METRIC_COLUMNS`), the benchmark-relative ones, the cost drags,
#: then the metrics added since (appended at the end)
METRICS: dict[str, MetricInfo] = {
    "total_return": MetricInfo("Total return", "total", PCT, 1, _M + "total_return", _B + "total_return_paths",
                               views=("delta",), doc="prod(1 + r) - 1"),
    "cagr": MetricInfo("CAGR", "CAGR", PCT, 1, _M + "cagr", _B + "cagr_paths",
                       views=("terminal", "regime", "delta", "tune"), doc="prod(1 + r) ** (252 / n) - 1"),
    "ann_vol": MetricInfo("Vol", "vol", PCT, -1, _M + "ann_vol", _B + "ann_vol_paths",
                          views=("terminal", "delta"), doc="std(r, ddof=1) * sqrt(252)"),
    "sharpe": MetricInfo("Sharpe", "Sharpe", RATIO, 1, _M + "sharpe", _B + "sharpe_paths", excess=True,
                         views=("terminal", "regime", "delta", "tune", "best"),
                         doc="mean(r - rf) / std(r - rf, ddof=1) * sqrt(252)"),
    "sortino": MetricInfo("Sortino", "Sortino", RATIO, 1, _M + "sortino", _B + "sortino_paths", excess=True,
                          views=("terminal", "tune", "best"),
                          doc="252 * mean(r - rf) / (sqrt(252) * sqrt(mean(min(r - rf, 0)^2)))"),
    "max_drawdown": MetricInfo("Max DD", "max DD", PCT, 1, _M + "max_drawdown", _B + "max_drawdown_paths",
                               views=("terminal", "regime", "delta", "tune"),
                               doc="largest fall of wealth from its running peak (from 1), <= 0"),
    "calmar": MetricInfo("Calmar", "Calmar", RATIO, 1, _M + "calmar", _B + "calmar_paths",
                         views=("terminal", "tune", "best"), doc="cagr / |max_drawdown|"),
    "turnover": MetricInfo("Turnover/yr", "turnover", RATIO, -1, _M + "annual_turnover", _B + "turnover_paths",
                           inputs="turnover", views=("terminal", "delta"),
                           doc="sum(traded / NAV) / 2 / years"),
    "hit_rate": MetricInfo("Hit rate", "hit rate", PCT, 1, _M + "hit_rate", _B + "hit_rate_paths",
                           doc="share of days with r > 0"),
    "worst_day": MetricInfo("Worst day", "worst day", PCT, 1, _M + "worst_day", _B + "worst_day_paths",
                            doc="smallest daily return"),
    "best_day": MetricInfo("Best day", "best day", PCT, 1, _M + "best_day", _B + "best_day_paths",
                           doc="largest daily return"),
    "cvar_5": MetricInfo("CVaR 5%", "CVaR 5%", PCT, 1, _M + "cvar", _B + "cvar_paths",
                         doc="mean of the worst 5 % of daily returns"),
    "active_return": MetricInfo("Active return", "active ret", PCT, 1, _R + "active_return",
                                _B + "active_return_paths", inputs="relative", doc="252 * mean(r - b)"),
    "tracking_error": MetricInfo("Tracking error", "TE", PCT, 0, _R + "tracking_error",
                                 _B + "tracking_error_paths", inputs="relative", doc="sqrt(252) * std(r - b, ddof=1)"),
    "information_ratio": MetricInfo("Information ratio", "IR", RATIO, 1, _R + "information_ratio",
                                    _B + "information_ratio_paths", inputs="relative", views=("tune", "best"),
                                    doc="active_return / tracking_error"),
    "beta": MetricInfo("Beta", "beta", RATIO, 0, _R + "beta", _B + "beta_paths", inputs="relative",
                       doc="cov(r, b) / var(b)"),
    "up_capture": MetricInfo("Up capture", "up cap", RATIO, 0, _R + "up_capture", _B + "up_capture_paths",
                             inputs="relative", doc="CAGR(r) / CAGR(b) on the days b > 0"),
    "down_capture": MetricInfo("Down capture", "down cap", RATIO, 0, _R + "down_capture", _B + "down_capture_paths",
                               inputs="relative", doc="CAGR(r) / CAGR(b) on the days b < 0"),
    "active_max_drawdown": MetricInfo("Active max DD", "active max DD", PCT, 1, _R + "active_max_drawdown",
                                      _B + "active_max_drawdown_paths", inputs="relative",
                                      doc="largest fall of the relative wealth W_r / W_b from its peak"),
    "fee_drag": MetricInfo("Fees + slippage", "fees", PCT, -1, _C + "cost_drag", _B + "cost_drag_paths",
                           inputs="cost", doc="sum(fees_t / NAV_t-1) * 252 / n"),
    "borrow_drag": MetricInfo("Borrow", "borrow", PCT, -1, _C + "cost_drag", _B + "cost_drag_paths",
                              inputs="cost", doc="sum(borrow_t / NAV_t-1) * 252 / n"),
    "financing_drag": MetricInfo("Financing", "financing", PCT, -1, _C + "cost_drag", _B + "cost_drag_paths",
                                 inputs="cost", doc="sum(financing_t / NAV_t-1) * 252 / n"),
    "ulcer_index": MetricInfo("Ulcer index", "ulcer", PCT, -1, "backtest.metrics_ulcer:ulcer_index",
                              "backtest.metrics_ulcer:ulcer_index_paths", doc="sqrt(mean(drawdown^2)): depth x length"),
}


def metric_names(view: str | None = None, inputs: str | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Registered metric names in :data:`METRICS` order, optionally only those of a view or of some inputs.

    Parameters
    ----------
    view : str, optional
        A name of :data:`VIEWS`.
    inputs : str or tuple of str, optional
        Names of :data:`INPUTS`.

    Returns
    -------
    tuple of str
    """
    if view is not None and view not in VIEWS:
        raise ValueError(f"unknown metric view {view!r}; one of {', '.join(VIEWS)}")
    ins = (inputs,) if isinstance(inputs, str) else inputs
    return tuple(n for n, m in METRICS.items()
                 if (view is None or view in m.views) and (ins is None or m.inputs in ins))


def pct_metrics() -> frozenset[str]:
    """Names of the metrics shown in percent (unit :data:`PCT`)."""
    return frozenset(n for n, m in METRICS.items() if m.unit == PCT)


def check_metric(name: str, choices: tuple[str, ...] | None = None) -> MetricInfo:
    """The row of ``name``, or a ``KeyError`` whose message lists the choices and a "did you mean".

    Parameters
    ----------
    name : str
        A metric name.
    choices : tuple of str, optional
        The names allowed here (default: every registered metric).
    """
    allowed = tuple(METRICS) if choices is None else choices
    if name not in allowed:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown metric {name!r}{hint}; one of {', '.join(allowed)}")
    return METRICS[name]


def _load(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def series_form(name: str) -> Callable[..., float]:
    """The series form of metric ``name`` (imported on first use; calling convention by ``inputs``)."""
    return _load(check_metric(name).series)


def batch_form(name: str) -> Callable[..., Any]:
    """The batch form of metric ``name`` (imported on first use; calling convention by ``inputs``)."""
    return _load(check_metric(name).batch)
