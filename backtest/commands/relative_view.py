"""Terminal tables of the benchmark-relative metrics and the cost drags (``run`` and ``compare``).

Reads the columns :mod:`backtest.run_metrics` writes to ``metrics.csv``, with the headers of
:mod:`backtest.metrics_registry`; imports only ``rich`` so that ``rmpbt --help`` stays light.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from backtest.commands.common import fmt
from backtest.metrics_registry import METRICS, PCT, metric_names

#: (column, header, percent?) of the relative block, then the cost block: the registry's rows
RELATIVE_VIEW = tuple((c, METRICS[c].short, METRICS[c].unit == PCT) for c in metric_names(inputs="relative"))
COST_VIEW = tuple((c, METRICS[c].short, METRICS[c].unit == PCT) for c in metric_names(inputs="cost"))


def _pct2(x: Any) -> str:
    """A cost drag in percent of NAV with two decimals (dash when missing)."""
    return "–" if x is None or x != x else f"{x:.2%}"


def _unsigned_zero(x: Any) -> Any:
    """0 for a ratio that rounds to zero at two decimals (no "-0.00")."""
    return 0.0 if x == x and x is not None and abs(x) < 0.005 else x


def relative_table(metrics: Any, benchmark: str | None, title: str = "") -> Table | None:
    """Rich table: per strategy the relative metrics against ``benchmark`` and the cost drags.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per strategy with the relative and cost-drag columns (missing ones are skipped).
    benchmark : str or None
        The benchmark's name (in the title; without one only the cost drags are shown).
    title : str
        Table title (default: names the benchmark).

    Returns
    -------
    rich.table.Table or None
        None when ``metrics`` has none of the columns (an older run folder).
    """
    rel = [v for v in RELATIVE_VIEW if v[0] in metrics.columns] if benchmark else []
    cost = [v for v in COST_VIEW if v[0] in metrics.columns]
    if not rel and not cost:
        return None
    title = title or (f"against {benchmark} (benchmark); costs in % of NAV a year" if rel
                      else "costs in % of NAV a year")
    t = Table(title=title, title_justify="left", header_style="bold", caption_justify="left",
              caption="active ret = 252 × mean daily difference; TE, IR annualised; capture = CAGR ratio on "
                      "the benchmark's up/down days; active max DD of strategy / benchmark wealth (docs/metrics.md)"
              if rel else None)
    t.add_column("strategy", style="cyan", no_wrap=True)
    for _, head, _ in rel + cost:
        t.add_column(head, justify="right")
    for name, row in metrics.iterrows():
        cells = ["[dim]benchmark[/]" if rel and name == benchmark and i == 0 else
                 (fmt(row[c], True) if pct else fmt(_unsigned_zero(row[c]))) for i, (c, _, pct) in enumerate(rel)]
        cells += [_pct2(row[c]) for c, _, _ in cost]
        t.add_row(str(name), *cells)
    return t


def financing_line(metrics: Any, spread_bps: float) -> str:
    """One summary line: each leveraged strategy's financing cost in % of NAV a year.

    Parameters
    ----------
    metrics : pandas.DataFrame
        One row per strategy with ``financing_drag`` (:mod:`backtest.cost_drag`).
    spread_bps : float
        ``cash.borrow_spread_bps`` (shown in the line).

    Returns
    -------
    str
        Empty when no strategy borrows cash.
    """
    if "financing_drag" not in metrics.columns:
        return ""
    parts = [f"{name} {row['financing_drag']:.2%}" for name, row in metrics.iterrows()
             if row["financing_drag"] == row["financing_drag"] and row["financing_drag"] > 0.0]
    if not parts:
        return ""
    return f"financing (cash rate + {spread_bps:g} bp on borrowed cash), % of NAV a year: " + ", ".join(parts)
