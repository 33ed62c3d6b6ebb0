"""The execution specification: every execution rule's single home.

:class:`ExecutionSpec` is built once per run (or tuning path) from the run config and the
trading days by :func:`build_spec`; ``rmpbt run`` (:mod:`backtest.pipeline` ->
:mod:`backtest.engine`), ``rmpbt tune`` (:mod:`backtest.tune` -> :mod:`backtest.kernel`)
and ``rmpbt scenarios`` (:mod:`backtest.synthetic.runner` ->
:mod:`backtest.synthetic.evaluate.scoring` -> :mod:`backtest.kernel`) consume it.

Rules and their home (nothing else re-derives them):

* decision dates -> :func:`decision_dates`;
* decision -> fill (``lag_days``) -> :func:`fill_dates` (calendar form) and
  :func:`fill_rows` (row form, paths);
* fee / slippage as fractions (``bps / 1e4``, divided once) -> :class:`Costs`
  (``fee``, ``slippage``); the cost of a trade (fee + slippage on the traded notional) ->
  :meth:`Costs.trade_cost`; a book's financing and borrow carry a year ->
  :meth:`Costs.carry_per_year`; what the batch kernel reads (fills, costs, cash growth
  as arrays) -> :class:`KernelView` (:meth:`ExecutionSpec.kernel_view`); borrow per asset -> :meth:`Costs.borrow_for` /
  :meth:`Costs.borrow_vector`; borrow accrual of a short leg -> :func:`borrow_factor`;
* which series idle cash earns (``cash.rate``: ``none`` | ``DTB3``/``cash_rate`` = the
  ``cash_rate`` signal, DTB3 then DGS3MO after DTB3 stops | another macro series) ->
  :func:`cash_rate_source`; the cash price / growth factors from an annual rate ->
  :func:`cash_price` (calendar form) and :func:`cash_growth` (array form, 1-D or per path);
  the daily risk-free return of the metrics -> :func:`risk_free` (calendar form) and
  :func:`risk_free_paths` (per path);
* financing of negative cash at the cash rate plus ``cash.borrow_spread_bps`` (a second
  cash column ``CASH:borrow`` holding ``min(0, 1 - sum(w))``, ``CASH`` holding
  ``max(0, 1 - sum(w))``) -> :func:`financing_growth`; the short-rebate haircut
  ``cash.short_rebate_haircut_bps`` accrues on the short leg with the borrow fee ->
  :meth:`Costs.short_accrual_for`;
* drift band and leverage cap -> fields of :class:`ExecutionSpec` (the band is applied by
  :func:`backtest.execution.drift.drift_keep`, the cap by
  :func:`backtest.execution.weights.finalise_weights`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest.constants import CASH, TRADING_DAYS
from backtest.data.exchange_calendar import exchange_days
from backtest.errors import ConfigError, StrategyError

if TYPE_CHECKING:  # pragma: no cover
    from backtest.config import RunConfig
    from backtest.data.base import MarketData

#: ``cash.rate`` values that mean "the ``cash_rate`` signal" (DTB3, DGS3MO after it stops).
CASH_RATE_SIGNAL = ("DTB3", "cash_rate")
#: Column holding negative cash (leverage), financed at the cash rate plus the spread.
FINANCING = "CASH:borrow"


# ------------------------------------------------------------------------ costs


@dataclass(frozen=True)
class Costs:
    """Trading and financing costs.

    Attributes
    ----------
    fee_bps : float
        Fee as basis points of traded value.
    slippage_bps : float
        Price impact in basis points applied to the fill price.
    borrow_bps : float
        Annual borrow fee on short positions, basis points of short value.
    borrow_bps_by_asset : dict[str, float]
        Per-asset overrides of ``borrow_bps``.
    borrow_spread_bps : float
        Annual spread over the cash rate paid on negative cash (``cash.borrow_spread_bps``).
    short_rebate_haircut_bps : float
        Annual haircut below the cash rate on short proceeds
        (``cash.short_rebate_haircut_bps``). Short proceeds sit in ``CASH`` and earn the
        cash rate, so the haircut accrues on the short leg on top of the borrow fee.
    """

    fee_bps: float = 0.0
    slippage_bps: float = 0.0
    borrow_bps: float = 0.0
    borrow_bps_by_asset: dict[str, float] = field(default_factory=dict)
    borrow_spread_bps: float = 0.0
    short_rebate_haircut_bps: float = 0.0

    @classmethod
    def from_config(cls, cfg: RunConfig) -> Costs:
        """The ``costs`` block and the financing keys of the ``cash`` block of a run config."""
        c = cfg.costs
        return cls(c.fee_bps, c.slippage_bps, c.borrow_bps, dict(c.borrow_bps_by_asset),
                   float(cfg.cash.borrow_spread_bps), float(cfg.cash.short_rebate_haircut_bps))

    @property
    def fee(self) -> float:
        """Fee as a fraction of traded value (``fee_bps / 1e4``)."""
        return self.fee_bps / 1e4

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of the price (``slippage_bps / 1e4``)."""
        return self.slippage_bps / 1e4

    def trade_cost(self, traded: float | np.ndarray) -> float | np.ndarray:
        """Cost of trading ``traded`` notional: fee + slippage, ``traded * (fee + slippage)``.

        The one place a trade's cost is computed (``now``'s trade list, the tuner's fold
        switches, the optimizer's default turnover penalty ``trade_cost(1.0)``). The
        simulators charge the same two rates per order (:func:`backtest.engine.fill_orders`,
        :func:`backtest.kernel.simulate_batch`): the fee on the traded value, the slippage on
        the fill price.

        Parameters
        ----------
        traded : float or np.ndarray
            Traded notional (value units, or fractions of NAV such as ``Σ|Δw|``).

        Returns
        -------
        float or np.ndarray
            The cost in the same units.
        """
        return traded * (self.fee + self.slippage)

    def carry_per_year(self, weights: Mapping[str, float], borrowed: float,
                       cash_rate: float) -> tuple[float, float]:
        """Financing and borrow carry of a book for a year, fractions of NAV.

        Financing: the borrowed cash pays the cash rate plus ``borrow_spread_bps``; borrow:
        each short leg pays :meth:`short_accrual_for` on its weight. The simulators accrue
        the same rates a trading day (:func:`financing_growth`, :func:`borrow_factor`).

        Parameters
        ----------
        weights : Mapping[str, float]
            Weights by asset (``CASH`` entries are ignored).
        borrowed : float
            Borrowed cash, ``max(0, Σw - 1)``.
        cash_rate : float
            Annual cash rate as a fraction (0 when cash earns nothing).

        Returns
        -------
        (float, float)
            Financing and borrow a year.
        """
        financing = borrowed * (cash_rate + self.borrow_spread_bps / 1e4)
        borrow = sum(-w * self.short_accrual_for(a) / 1e4 for a, w in weights.items() if a != CASH and w < 0)
        return float(financing), float(borrow)

    def borrow_for(self, asset: str) -> float:
        """Annual borrow fee of ``asset`` in basis points."""
        return float(self.borrow_bps_by_asset.get(asset, self.borrow_bps))

    def short_accrual_for(self, asset: str) -> float:
        """Annual accrual of ``asset``'s short leg in bp: borrow fee + short-rebate haircut."""
        return self.borrow_for(asset) + float(self.short_rebate_haircut_bps)

    def borrow_vector(self, assets: Sequence[str]) -> np.ndarray:
        """Annual accrual of each of ``assets``' short leg in bp (:meth:`short_accrual_for`)."""
        return np.array([self.short_accrual_for(a) for a in assets], dtype=float)


    def kernel_view(self, assets: Sequence[str], fill_idx: np.ndarray,
                    cash_growth: np.ndarray | None = None) -> KernelView:
        """The costs as the batch kernel reads them, for columns ``assets`` (:class:`KernelView`).

        Parameters
        ----------
        assets : sequence of str
            The kernel's asset columns (their short legs' accrual, :meth:`borrow_vector`).
        fill_idx : np.ndarray of int
            Rows of the fills.
        cash_growth : np.ndarray, optional
            Daily growth factors of the cash asset, ``(T,)`` or ``(B, T)``; None: cash earns nothing.

        Returns
        -------
        KernelView
        """
        return KernelView(fill_idx=np.asarray(fill_idx, dtype=np.int64), fee=self.fee, slippage=self.slippage,
                          borrow_bps=self.borrow_vector(assets), borrow_spread_bps=float(self.borrow_spread_bps),
                          cash_growth=None if cash_growth is None else np.asarray(cash_growth, dtype=float))


@dataclass(frozen=True, eq=False)
class KernelView:
    """The execution spec's array view: what :func:`backtest.kernel.simulate_batch` reads.

    Plain arrays and scalars, built once from :class:`ExecutionSpec` (:meth:`ExecutionSpec.kernel_view`)
    or :class:`Costs` (:meth:`Costs.kernel_view`, per path), so the kernel takes the spec
    whole rather than loose cost numbers.

    Attributes
    ----------
    fill_idx : np.ndarray of int
        ``K`` strictly increasing rows at which the fills happen.
    fee, slippage : float
        Fractions of traded value / of the price (:attr:`Costs.fee`, :attr:`Costs.slippage`).
    borrow_bps : np.ndarray or float
        Annual accrual of each asset column's short leg (``N``) in basis points: borrow fee
        plus short-rebate haircut (:meth:`Costs.borrow_vector`); a float applies to every column.
    borrow_spread_bps : float
        Annual spread over the cash rate paid on negative cash.
    cash_growth : np.ndarray or None
        ``T`` (shared) or ``B x T`` daily growth factors of the cash asset (:func:`cash_growth`);
        None: cash earns nothing.
    """

    fill_idx: np.ndarray
    fee: float = 0.0
    slippage: float = 0.0
    borrow_bps: np.ndarray | float = 0.0
    borrow_spread_bps: float = 0.0
    cash_growth: np.ndarray | None = None


def borrow_daily(bps: float) -> float:
    """Daily borrow accrual of an annual fee in basis points: ``bps / 1e4 / 252``."""
    return bps / 1e4 / TRADING_DAYS


def borrow_factor(n_days: int, bps: float) -> np.ndarray:
    """Accrual factor ``B_t = (1 + bps/1e4/252) ** t`` (``B_0 = 1``) of a short leg's price."""
    return (1.0 + borrow_daily(bps)) ** np.arange(n_days, dtype=float)


# ------------------------------------------------------------------------ dates


def decision_dates(days: pd.DatetimeIndex, every: str) -> pd.DatetimeIndex:
    """Decision days: the first day of the run, then the last trading day of each period.

    Parameters
    ----------
    days : pd.DatetimeIndex
        Trading days of the run.
    every : {"daily", "weekly", "monthly", "quarterly"}
        Rebalance schedule.

    Returns
    -------
    pd.DatetimeIndex
    """
    if len(days) == 0:
        return days
    if every == "daily":
        return days
    freq = {"weekly": "W", "monthly": "M", "quarterly": "Q"}[every]
    periods = days.to_period(freq)
    last = pd.Series(days, index=days).groupby(periods).transform("max")
    ends = pd.DatetimeIndex(days[np.asarray(days == pd.DatetimeIndex(last))])
    # The data's last day closes its period only if no trading day of the period is left
    # (NYSE holiday rules: a Good Friday at quarter end leaves none after the Thursday).
    tail = days[-1]
    period_end = tail.to_period(freq).end_time.normalize()
    if len(exchange_days(tail + pd.Timedelta(days=1), period_end)):
        ends = ends[ends != tail]
    return ends.union(pd.DatetimeIndex([days[0]]))


def fill_dates(days: pd.DatetimeIndex, decisions: pd.DatetimeIndex, lag_days: int) -> pd.Series:
    """Map each decision day to its fill day ``lag_days`` trading days later.

    Decisions whose fill would fall after the last day are dropped.

    Returns
    -------
    pd.Series
        Fill day indexed by decision day.
    """
    pos = days.get_indexer(decisions)
    if (pos < 0).any():
        bad = decisions[pos < 0][0]
        raise StrategyError(f"decision date {bad.date()} is not a trading day of the run")
    keep, fill = fill_rows(pos, lag_days, len(days))
    return pd.Series(days[fill], index=decisions[keep])


def fill_rows(dec_rows: np.ndarray, lag_days: int, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Which decisions fill before the end, and the rows of their fills.

    Parameters
    ----------
    dec_rows : np.ndarray of int
        Rows of the decisions (increasing).
    lag_days : int
        Trading days from decision to fill.
    n_days : int
        Number of rows.

    Returns
    -------
    (np.ndarray, np.ndarray)
        Bool mask of the decisions kept (``dec + lag_days < n_days``) and their fill rows.
    """
    fill = np.asarray(dec_rows, dtype=np.int64) + int(lag_days)
    keep = fill < n_days
    return keep, fill[keep]


# ------------------------------------------------------------------------ cash


def cash_rate_source(setting: str, available: Sequence[str] | None = None, origin: str = "<config>") -> str | None:
    """Which series idle cash earns, from ``cash.rate``.

    Parameters
    ----------
    setting : str
        ``cash.rate``.
    available : sequence of str, optional
        Loaded macro series (checked when the setting names one).
    origin : str
        Config file name for messages.

    Returns
    -------
    str or None
        None (cash earns nothing), ``"cash_rate"`` (the ``cash_rate`` signal: DTB3, then
        DGS3MO after DTB3 stops) or the name of another macro series.
    """
    if setting.lower() == "none":
        return None
    if setting in CASH_RATE_SIGNAL:
        return "cash_rate"
    if available is not None and setting not in available:
        raise ConfigError(f"{origin}: cash.rate: series {setting!r} is not loaded")
    return setting


def cash_price(days: pd.DatetimeIndex, rate_pct: pd.Series | None) -> pd.Series:
    """Price of the cash asset: compounds daily at the previous day's annual rate (percent).

    ``C_0 = 1`` and ``C_t = C_{t-1} * (1 + r_{t-1} / 100 / 252)``; missing rates count as 0.
    """
    if rate_pct is None:
        return pd.Series(1.0, index=days)
    g = cash_growth(rate_pct.reindex(days).astype(float).to_numpy(), len(days))
    return pd.Series(np.cumprod(g), index=days)


def cash_growth(rate_pct: np.ndarray | None, n_days: int | None = None) -> np.ndarray:
    """Daily growth factors of the cash asset: ``g_0 = 1``, ``g_t = 1 + r_{t-1}/100/252``.

    Parameters
    ----------
    rate_pct : np.ndarray or None
        Annual rate in percent known on each day: ``(T,)``, or ``(T, P)`` per path.
        Missing rates count as 0. None: cash earns nothing (all ones, needs ``n_days``).
    n_days : int, optional
        ``T`` (only needed when ``rate_pct`` is None).

    Returns
    -------
    np.ndarray
        ``(T,)``, or ``(P, T)`` for a 2-D rate; ``np.cumprod`` is :func:`cash_price`.
    """
    if rate_pct is None:
        return np.ones(int(n_days or 0))
    r = np.nan_to_num(np.asarray(rate_pct, dtype=float), nan=0.0) / 100.0 / TRADING_DAYS
    if r.ndim == 1:
        return np.concatenate([[1.0], 1.0 + r[:-1]])
    g = np.ones((r.shape[1], r.shape[0]))
    g[:, 1:] = 1.0 + r[:-1].T
    return g


def financing_growth(cash_g: np.ndarray | None, spread_bps: float, n_days: int | None = None) -> np.ndarray:
    """Daily growth factors of the financing leg ``CASH:borrow`` (negative cash).

    ``f_0 = 1`` and ``f_t = g_t + spread_bps / 1e4 / 252``: the cash rate known the previous
    day plus the spread.

    Parameters
    ----------
    cash_g : np.ndarray or None
        :func:`cash_growth` factors, ``(T,)`` or ``(P, T)``; None: the cash rate is 0 (needs
        ``n_days``).
    spread_bps : float
        Annual spread in basis points.
    n_days : int, optional
        ``T`` when ``cash_g`` is None.

    Returns
    -------
    np.ndarray
        Same shape as ``cash_g`` (``(T,)`` when None).
    """
    g = np.ones(int(n_days or 0)) if cash_g is None else np.array(cash_g, dtype=float, copy=True)
    g[..., 1:] += spread_bps / 1e4 / TRADING_DAYS
    return g


def risk_free(days: pd.DatetimeIndex, rf_rate: pd.Series) -> pd.Series:
    """Daily risk-free return of the metrics: the cash price's daily change at ``rf_rate``.

    Zero when the rate is never known.
    """
    if rf_rate.notna().any():
        return cash_price(days, rf_rate).pct_change().fillna(0.0)
    return pd.Series(0.0, index=days)


def risk_free_paths(rf_rate: np.ndarray | None) -> np.ndarray | None:
    """Daily risk-free return per path, ``(P, T)``, from the rate ``(T, P)``; None if unknown."""
    if rf_rate is None or not np.isfinite(rf_rate).any():
        return None
    return cash_growth(rf_rate) - 1.0


# ------------------------------------------------------------------------ the spec


@dataclass(frozen=True)
class ExecutionSpec:
    """How target weights become trades, built once from the config and the trading days.

    Attributes
    ----------
    days : pd.DatetimeIndex
        Trading days of the run.
    decisions : pd.DatetimeIndex
        Decision days (:func:`decision_dates`).
    fills : pd.Series
        Fill day indexed by decision day, decisions filling after the end dropped.
    lag_days : int
        Trading days from decision to fill.
    costs : Costs
        Fees, slippage (fractions via ``costs.fee`` / ``costs.slippage``) and borrow.
    cash_rate : pd.Series or None
        Annual rate (percent) idle cash earns on ``days``; None = nothing.
    rf : pd.Series
        Daily risk-free return on ``days`` (Sharpe / Sortino are of excess returns).
    drift_band : float or None
        Skip a rebalance when no weight drifted more than this from target.
    max_gross : float
        Gross leverage cap applied to every target row.
    """

    days: pd.DatetimeIndex
    decisions: pd.DatetimeIndex
    fills: pd.Series
    lag_days: int
    costs: Costs
    cash_rate: pd.Series | None
    rf: pd.Series
    drift_band: float | None
    max_gross: float

    @property
    def fill_k(self) -> np.ndarray:
        """Position in ``decisions`` of each decision that fills."""
        return self.decisions.get_indexer(pd.DatetimeIndex(self.fills.index))

    @property
    def dec_idx(self) -> np.ndarray:
        """Row in ``days`` of each decision that fills."""
        return self.days.get_indexer(pd.DatetimeIndex(self.fills.index)).astype(np.int64)

    @property
    def fill_idx(self) -> np.ndarray:
        """Row in ``days`` of each fill."""
        return self.days.get_indexer(pd.DatetimeIndex(self.fills.to_numpy())).astype(np.int64)

    def cash_growth(self) -> np.ndarray | None:
        """Daily growth factors of the cash asset on ``days`` (None: cash earns nothing)."""
        if self.cash_rate is None:
            return None
        return cash_growth(self.cash_rate.reindex(self.days).to_numpy(dtype=float), len(self.days))

    def financing_growth(self) -> np.ndarray:
        """Daily growth factors of negative cash (:func:`financing_growth`) on ``days``."""
        return financing_growth(self.cash_growth(), self.costs.borrow_spread_bps, len(self.days))

    def kernel_view(self, assets: Sequence[str]) -> KernelView:
        """The array view the batch kernel takes for columns ``assets``: fills, costs, cash growth."""
        return self.costs.kernel_view(assets, self.fill_idx, self.cash_growth())


@dataclass(frozen=True)
class PathSpec:
    """The execution spec without a calendar: the rules every simulated path applies.

    ``rmpbt scenarios`` carries it to each chunk of paths (picklable, small); each path's
    fills (:func:`fill_rows`) and cash growth are then made on the path's own days and
    rates, and :meth:`kernel_view` hands the kernel the whole view.
    :func:`build_spec` derives the same fields for a calendar (one derivation,
    :meth:`from_config`).

    Attributes
    ----------
    lag_days : int
        Trading days from decision to fill.
    costs : Costs
        Fees, slippage, borrow and financing.
    cash_rate : str
        ``cash.rate``: which series idle cash earns (:func:`cash_rate_source`).
    max_gross : float
        Gross leverage cap applied to every target row.
    drift_band : float or None
        Skip a rebalance when no weight drifted more than this from target.
    """

    lag_days: int
    costs: Costs
    cash_rate: str
    max_gross: float
    drift_band: float | None

    @classmethod
    def from_config(cls, cfg: RunConfig) -> PathSpec:
        """The execution rules of a run config."""
        return cls(lag_days=int(cfg.execution.lag_days), costs=Costs.from_config(cfg), cash_rate=cfg.cash.rate,
                   max_gross=float(cfg.execution.max_gross_leverage), drift_band=cfg.rebalance.drift_band)

    def kernel_view(self, assets: Sequence[str], fill_idx: np.ndarray,
                    cash_growth: np.ndarray | None = None) -> KernelView:
        """The kernel's array view for columns ``assets`` of paths with fills ``fill_idx`` (:meth:`Costs.kernel_view`)."""
        return self.costs.kernel_view(assets, fill_idx, cash_growth)


def build_spec(cfg: RunConfig, md: MarketData, days: pd.DatetimeIndex, rf_rate: pd.Series,
               origin: str = "<config>") -> ExecutionSpec:
    """The execution specification of a run.

    Parameters
    ----------
    cfg : RunConfig
        Run configuration.
    md : MarketData
        Loaded market data (macro series for ``cash.rate``).
    days : pd.DatetimeIndex
        Trading days of the run.
    rf_rate : pd.Series
        The ``cash_rate`` signal (point in time, percent a year).
    origin : str
        Config file name for messages.

    Returns
    -------
    ExecutionSpec
    """
    from backtest.data.base import asof

    src = cash_rate_source(cfg.cash.rate, list(md.macro), origin)
    if src is None:
        cash_rate = None
    elif src == "cash_rate":
        cash_rate = rf_rate.reindex(days)
    else:
        cash_rate = asof(md.macro[src], md.calendar).reindex(days)
    dates = decision_dates(days, cfg.rebalance.every)
    rules = PathSpec.from_config(cfg)
    return ExecutionSpec(days=days, decisions=dates, fills=fill_dates(days, dates, rules.lag_days),
                         lag_days=rules.lag_days, costs=rules.costs, cash_rate=cash_rate, rf=risk_free(days, rf_rate),
                         drift_band=rules.drift_band, max_gross=rules.max_gross)
