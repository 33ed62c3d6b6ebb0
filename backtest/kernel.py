"""Numba drift-and-rebalance kernel: many target-weight variants simulated in one pass.

:func:`simulate_many` reproduces :func:`backtest.engine.simulate` (vectorbt's
``Portfolio.from_orders`` with ``size_type="targetpercent"``, ``direction="both"``, cash
sharing, ``call_seq="auto"``, ``update_value=False``, ``allow_partial=True``) for ``V``
variants at once, without vectorbt. Each variant is independent; the kernel is a
transcription of vectorbt's ``buy_nb``, ``sell_nb``, ``execute_order_nb``,
``approx_order_value_nb`` and ``insert_argsort_nb`` (``vectorbt/portfolio/nb.py``,
``vectorbt/utils/math_.py``) restricted to the arguments the engine passes:

* Columns are laid out as the engine lays them out: each asset, followed by its
  ``X:short`` leg when any variant shorts it (price = asset price x borrow accrual
  factor), then ``CASH`` when a cash rate is given (price compounds at the previous
  day's rate) and ``CASH:borrow`` holding negative cash when an item's executed fills lever
  (price compounds at that rate plus the financing spread). A short leg or asset column that a variant never uses carries a zero
  target and a zero position, and is a no-op in vectorbt too (zero-value orders are
  ignored and insertion sort is stable), so one layout serves every variant.
* At a fill row every column gets a target-percent order sized from the group value at
  the start of the bar (cash + positions at the bar's close, ``update_value=False``);
  orders run in ascending order of approximate order value (sells first); buys pay
  ``close * (1 + slippage)`` and fees ``fee * traded value`` from cash, and are partially
  filled when cash is short; sells receive ``close * (1 - slippage)`` net of fees.
* vectorbt's numerical snapping (``is_close`` with ``rel_tol=1e-9``, ``abs_tol=1e-12``;
  ``add_nb``) is replicated, including the snapping of cash and positions that vectorbt
  applies when it processes the (ignored) NaN orders of non-fill rows.

Single homes (see also :mod:`backtest.execution.spec`):

* the fast simulation of a batch (tuning variants sharing prices, or scenario paths with
  their own prices) -> :func:`simulate_batch` (:func:`simulate_many` is its shared-price
  form); nothing else simulates without vectorbt. Its execution inputs (fills, fee,
  slippage, borrow, financing spread, cash growth) arrive whole as the spec's array view
  (:class:`backtest.execution.spec.KernelView`);
* the drift band and the targets at the fills -> :mod:`backtest.execution.drift`
  (``drift_keep``, ``fill_plan``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from backtest.execution.spec import KernelView, borrow_factor, financing_growth
from backtest.threads import run_blocks

REL_TOL = 1e-9
ABS_TOL = 1e-12
MIN_SIZE = 1e-12
LONG, SHORT, CASH_COL, BORROW_COL = 0, 1, 2, 3


# ---------------------------------------------------------------- vectorbt math helpers


@njit(cache=True)
def _is_close(a: float, b: float) -> bool:
    if np.isnan(a) or np.isnan(b):
        return False
    if np.isinf(a) or np.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(REL_TOL * max(abs(a), abs(b)), ABS_TOL)


@njit(cache=True)
def _is_less(a: float, b: float) -> bool:
    if _is_close(a, b):
        return False
    return a < b


@njit(cache=True)
def _add(a: float, b: float) -> float:
    if np.sign(a) != np.sign(b):
        zero = _is_close(abs(a), abs(b))
    else:
        zero = _is_close(a + b, 0.0)
    if zero:
        return 0.0
    return a + b


@njit(cache=True)
def _order(size: float, price: float, value: float, cash: float, pos: float,
           fee: float, slip: float) -> tuple[float, float, int]:
    """One target-percent order (``execute_order_nb`` + ``buy_nb``/``sell_nb``).

    Returns the new cash, the new position and a status: 0 = done (filled, ignored or
    rejected), 1 = vectorbt would raise (negative cash).
    """
    # numerical stability (vectorbt snaps these before every order, filled or not)
    if _is_close(cash, 0.0):
        cash = 0.0
    if _is_close(pos, 0.0):
        pos = 0.0
    if _is_close(value, 0.0):
        value = 0.0
    if np.isnan(size):
        return cash, pos, 0
    if np.isnan(cash) or cash < 0:
        return cash, pos, 1
    if np.isnan(value):
        return cash, pos, 0
    if value <= 0:
        return cash, pos, 0  # rejected: value zero or negative
    order_size = size * value / price - pos  # val_price == order price == close
    if order_size > 0:
        adj_price = price * (1.0 + slip)
        cash_limit = cash
        if cash_limit == 0:
            return cash, pos, 0  # rejected: no cash
        req_cash = order_size * adj_price
        req_fees = req_cash * fee
        total_req = req_cash + req_fees
        if _is_close(total_req, cash_limit) or total_req < cash_limit:
            final_size = order_size
            final_req = total_req
        else:
            max_req = _add(cash_limit, -0.0) / (1.0 + fee)
            if max_req <= 0:
                return cash, pos, 0
            final_size = max_req / adj_price
            final_req = cash_limit
        if _is_close(order_size, 0.0):
            return cash, pos, 0
        if _is_less(final_size, MIN_SIZE):
            return cash, pos, 0
        return _add(cash, -final_req), _add(pos, final_size), 0
    size_limit = -order_size
    adj_price = price * (1.0 - slip)
    if _is_close(size_limit, 0.0):
        return cash, pos, 0
    if _is_less(size_limit, MIN_SIZE):
        return cash, pos, 0
    acq = size_limit * adj_price
    fees_paid = acq * fee
    final_acq = _add(acq, -fees_paid)
    if final_acq < 0:
        return cash, pos, 0
    return cash + final_acq, _add(pos, -size_limit), 0


@njit(cache=True)
def _column_target(w: np.ndarray, asset: int, kind: int, cash_on: bool, fin_on: bool) -> float:
    # NaN weights count as 0 (as ``fillna(0)`` in the engine); an inactive CASH column gets
    # NaN orders, which vectorbt ignores exactly as if the column did not exist
    if kind == LONG:
        x = w[asset]
        return x if x > 0.0 else 0.0
    if kind == SHORT:
        x = w[asset]
        return x if x < 0.0 else 0.0
    if not (cash_on if kind == CASH_COL else fin_on):
        return np.nan
    tot = 0.0
    for j in range(w.shape[0]):
        if not np.isnan(w[j]):
            tot += w[j]
    x = 1.0 - tot
    if kind == CASH_COL:
        return x if x > 0.0 else 0.0
    return x if x < 0.0 else 0.0


@njit(cache=True)
def _simulate_one(close: np.ndarray, targets: np.ndarray, fill_idx: np.ndarray, execute: np.ndarray,
                  col_asset: np.ndarray, col_kind: np.ndarray, cash_on: bool, fin_on: bool, fee: float,
                  slip: float, out: np.ndarray) -> int:
    """Simulate one variant; writes the value path into ``out`` (T); returns an error flag."""
    n_t, n_c = close.shape
    pos = np.zeros(n_c)
    ov = np.empty(n_c)
    seq = np.empty(n_c, dtype=np.int64)
    cash = 1.0
    k = 0
    n_k = fill_idx.shape[0]
    err = 0
    for t in range(n_t):
        is_fill = False
        while k < n_k and fill_idx[k] < t:
            k += 1
        if k < n_k and fill_idx[k] == t:
            is_fill = execute[k]
        if is_fill and err == 0:
            w = targets[k]
            value = cash
            for c in range(n_c):
                if pos[c] != 0:
                    value += pos[c] * close[t, c]
            for c in range(n_c):
                ov[c] = _column_target(w, col_asset[c], col_kind[c], cash_on, fin_on) * value - pos[c] * close[t, c]
                seq[c] = c
            # insertion argsort (vectorbt insert_argsort_nb: stable, NaN last)
            for j in range(1, n_c):
                a_j = ov[j]
                i_j = seq[j]
                i = j - 1
                while i >= 0 and (ov[i] > a_j or np.isnan(ov[i])):
                    ov[i + 1] = ov[i]
                    seq[i + 1] = seq[i]
                    i -= 1
                ov[i + 1] = a_j
                seq[i + 1] = i_j
            for j in range(n_c):
                c = seq[j]
                tgt = _column_target(w, col_asset[c], col_kind[c], cash_on, fin_on)
                cash, pos[c], status = _order(tgt, close[t, c], value, cash, pos[c], fee, slip)
                if status != 0:
                    err = 1
        elif err == 0:
            # vectorbt processes a NaN order per column on every other bar: state snaps only
            # (for finite x, is_close(x, 0) <=> |x| <= abs_tol)
            if abs(cash) <= ABS_TOL:
                cash = 0.0
            value = cash
            for c in range(n_c):
                p = pos[c]
                if p != 0.0:
                    if abs(p) <= ABS_TOL:
                        pos[c] = 0.0
                    else:
                        value += p * close[t, c]
            out[t] = value
            continue
        if err:
            out[t] = np.nan
            continue
        value = cash
        for c in range(n_c):
            if pos[c] != 0:
                value += pos[c] * close[t, c]
        out[t] = value
    return err


@njit(cache=True, nogil=True)
def _simulate_serial(close, targets, fill_idx, execute, col_asset, col_kind, cash_on, fin_on, fee, slip, out,
                     errors):
    for v in range(targets.shape[0]):
        errors[v] = _simulate_one(close, targets[v], fill_idx, execute[v], col_asset, col_kind,
                                  cash_on[v], fin_on[v], fee, slip, out[v])




@njit(cache=True, nogil=True)
def _simulate_items(prices, cash_g, fin_g, borrow_g, targets, fill_idx, execute, col_asset, col_kind, cash_on, fin_on,
                    fee, slip, out, errors):
    """Items with their own prices (paths): build each item's columns, then ``_simulate_one``."""
    n_b, n_t, _ = prices.shape
    n_c = col_asset.shape[0]
    close = np.empty((n_t, n_c))
    for b in range(n_b):
        for c in range(n_c):
            a = col_asset[c]
            kind = col_kind[c]
            if kind == CASH_COL:
                v = 1.0
                for t in range(n_t):
                    v *= cash_g[b, t]
                    close[t, c] = v
            elif kind == BORROW_COL:
                v = 1.0
                for t in range(n_t):
                    v *= fin_g[b, t]
                    close[t, c] = v
            elif kind == SHORT:
                for t in range(n_t):
                    close[t, c] = prices[b, t, a] * borrow_g[c, t]
            else:
                for t in range(n_t):
                    close[t, c] = prices[b, t, a]
        errors[b] = _simulate_one(close, targets[b], fill_idx, execute[b], col_asset, col_kind, cash_on[b],
                                  fin_on[b], fee, slip, out[b])


# ---------------------------------------------------------------- public API


def column_layout(targets: np.ndarray, with_cash: bool, with_financing: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Engine column layout: asset, its short leg if any variant shorts it, ..., CASH, CASH:borrow.

    Returns
    -------
    (np.ndarray, np.ndarray)
        Asset index and kind (0 long, 1 short, 2 cash, 3 financing) of each column.
    """
    n_a = targets.shape[-1]
    shorted = (targets < 0).reshape(-1, n_a).any(axis=0) if targets.size else np.zeros(n_a, bool)
    asset, kind = [], []
    for j in range(n_a):
        asset.append(j)
        kind.append(LONG)
        if shorted[j]:
            asset.append(j)
            kind.append(SHORT)
    if with_cash:
        asset.append(-1)
        kind.append(CASH_COL)
    if with_financing:
        asset.append(-1)
        kind.append(BORROW_COL)
    return np.asarray(asset, dtype=np.int64), np.asarray(kind, dtype=np.int64)


def _run_blocks(fn, args: tuple, per_item: tuple[int, ...], n_b: int, parallel: bool) -> None:
    """Run the serial kernel ``fn`` on blocks of items (arguments ``per_item`` are sliced)."""

    def block(lo: int, hi: int) -> None:
        a = list(args)
        for i in per_item:
            a[i] = args[i][lo:hi]
        fn(*a)

    run_blocks(block, n_b, parallel)


def simulate_batch(
    prices: np.ndarray,
    targets: np.ndarray,
    view: KernelView,
    *,
    execute: np.ndarray | None = None,
    parallel: bool = True,
) -> np.ndarray:
    """Simulate a batch of target-weight series with the engine's semantics; return values.

    The only fast simulator: tuning variants share one price matrix, scenario paths each
    have their own.

    Parameters
    ----------
    prices : np.ndarray
        ``T x N`` closes shared by the batch, or ``B x T x N`` per item; NaN before an
        asset's first price (back-filled for valuation, then forward-filled, as the engine).
    targets : np.ndarray
        ``B x K x N`` target weights at the ``K`` fills; the cash weight is ``1 - sum``.
        NaN are treated as 0 (rows where an item holds go in ``execute``).
    view : backtest.execution.spec.KernelView
        The execution spec's array view (:meth:`backtest.execution.spec.ExecutionSpec.kernel_view`,
        :meth:`backtest.execution.spec.Costs.kernel_view`): ``fill_idx`` (``K`` strictly
        increasing rows at which the fills happen), ``fee`` and ``slippage`` (fractions of
        traded value / of the price), ``borrow_bps`` (annual accrual of each asset's short
        leg, ``N``, in basis points: borrow fee plus short-rebate haircut),
        ``borrow_spread_bps`` (annual spread over the cash rate paid on negative cash) and
        ``cash_growth`` (``T`` shared or ``B x T`` daily growth factors of the cash asset;
        None = cash earns nothing). As in the engine, an item trades an explicit ``CASH``
        column (positive cash) when a rate is given or when one of its executed fills has
        weights summing to more than 1, and then a ``CASH:borrow`` column (negative cash)
        growing at :func:`backtest.execution.spec.financing_growth`.
    execute : np.ndarray, optional
        ``B x K`` bool; False skips that fill for that item (hold, drift band).
    parallel : bool
        Spread the batch over threads (results are identical either way).

    Returns
    -------
    np.ndarray
        ``B x T`` portfolio values at each close (initial value 1 before the first day);
        an item on which vectorbt would raise (negative cash) is NaN from there.
    """
    px = np.asarray(prices, dtype=np.float64)
    shared = px.ndim == 2
    n_t, n_a = px.shape[-2:]
    tg = np.asarray(targets, dtype=np.float64)
    if tg.ndim != 3 or tg.shape[2] != n_a or (not shared and tg.shape[0] != px.shape[0]):
        raise ValueError(f"targets must be B x K x {n_a}, got {tg.shape}")
    n_v, n_k, _ = tg.shape
    fidx = np.asarray(view.fill_idx, dtype=np.int64)
    fee, slippage, cash_growth = view.fee, view.slippage, view.cash_growth
    borrow_bps, borrow_spread_bps = view.borrow_bps, view.borrow_spread_bps
    if fidx.shape != (n_k,):
        raise ValueError(f"fill_idx must have {n_k} rows, got {fidx.shape}")
    if n_k and (np.any(np.diff(fidx) <= 0) or fidx[0] < 0 or fidx[-1] >= n_t):
        raise ValueError("fill_idx must be strictly increasing rows of prices")
    ex = np.ones((n_v, n_k), dtype=np.bool_) if execute is None else np.ascontiguousarray(execute, dtype=np.bool_)
    levered = np.nansum(tg, axis=2) > 1.0 + 1e-9
    fin_on = (levered & ex).any(axis=1) if n_k else np.zeros(n_v, dtype=np.bool_)
    cash_on = np.ones(n_v, dtype=np.bool_) if cash_growth is not None else fin_on.copy()
    col_asset, col_kind = column_layout(tg, bool(cash_on.any()), bool(fin_on.any()))
    bps = np.broadcast_to(np.asarray(borrow_bps, dtype=float), (n_a,))
    tg = np.ascontiguousarray(np.nan_to_num(tg, nan=0.0) if not shared else tg)
    out = np.empty((n_v, n_t))
    errors = np.zeros(n_v, dtype=np.int64)
    if shared:
        filled = _bfill_ffill(px)
        close = np.empty((n_t, len(col_asset)))
        for c, (a, kd) in enumerate(zip(col_asset, col_kind, strict=True)):
            if kd == LONG:
                close[:, c] = filled[:, a]
            elif kd == SHORT:
                close[:, c] = filled[:, a] * borrow_factor(n_t, float(bps[a]))
            elif kd == BORROW_COL:
                cg1 = None if cash_growth is None else np.asarray(cash_growth, dtype=float)
                close[:, c] = np.cumprod(financing_growth(cg1, float(borrow_spread_bps), n_t))
            elif cash_growth is not None:
                close[:, c] = np.cumprod(np.asarray(cash_growth, dtype=float))
            else:
                close[:, c] = 1.0
        args = (close, tg, fidx, ex, col_asset, col_kind, cash_on, fin_on, float(fee), float(slippage), out, errors)
        _run_blocks(_simulate_serial, args, (1, 3, 6, 7, 10, 11), n_v, parallel)
        return out
    if np.isnan(px).any():
        px = np.stack([_bfill_ffill(p) for p in px])
    borrow_g = np.ones((len(col_asset), n_t))
    for c, (a, kd) in enumerate(zip(col_asset, col_kind, strict=True)):
        if kd == SHORT:
            borrow_g[c] = borrow_factor(n_t, float(bps[a]))
    if cash_growth is None:
        cg = np.ones((n_v, n_t))
    else:
        cg = np.asarray(cash_growth, dtype=np.float64)
        cg = np.ascontiguousarray(np.broadcast_to(cg, (n_v, n_t)) if cg.ndim == 1 else cg)
    fg = np.ascontiguousarray(financing_growth(None if cash_growth is None else cg, float(borrow_spread_bps), n_t))
    if fg.ndim == 1:
        fg = np.ascontiguousarray(np.broadcast_to(fg, (n_v, n_t)))
    args = (np.ascontiguousarray(px), cg, fg, borrow_g, tg, fidx, ex, col_asset, col_kind, cash_on, fin_on,
            float(fee), float(slippage), out, errors)
    _run_blocks(_simulate_items, args, (0, 1, 2, 4, 6, 9, 10, 13, 14), n_v, parallel)
    return out


def simulate_many(
    prices: np.ndarray,
    targets: np.ndarray,
    view: KernelView,
    *,
    execute: np.ndarray | None = None,
    parallel: bool = True,
) -> np.ndarray:
    """:func:`simulate_batch` of ``V`` variants sharing ``prices`` (``T x N``), as ``T x V``.

    See :func:`simulate_batch` for the parameters.

    Returns
    -------
    np.ndarray
        ``T x V`` portfolio values at each close.
    """
    if np.asarray(prices).ndim != 2:
        raise ValueError("simulate_many takes T x N prices shared by the variants")
    return simulate_batch(prices, targets, view, execute=execute, parallel=parallel).T


def _bfill_ffill(px: np.ndarray) -> np.ndarray:
    """``DataFrame.bfill().ffill()`` on a 2-D array."""
    out = px.copy()
    n_t = out.shape[0]
    for j in range(out.shape[1]):
        col = out[:, j]
        ok = np.flatnonzero(np.isfinite(col))
        if not len(ok):
            continue
        col[: ok[0]] = col[ok[0]]
        idx = np.maximum.accumulate(np.where(np.isfinite(col), np.arange(n_t), 0))
        out[:, j] = col[idx]
    return out


def numpy_floor(prices: np.ndarray, targets: np.ndarray, fill_idx: np.ndarray) -> np.ndarray:
    """Reference floor: plain numpy loop over days vectorised across variants, no costs.

    Returns ``T x V`` values (cash earns nothing). Used by the benchmark only.
    """
    px = _bfill_ffill(np.asarray(prices, dtype=float))
    tg = np.nan_to_num(np.asarray(targets, dtype=float))
    n_t = px.shape[0]
    n_v = tg.shape[0]
    units = np.zeros((n_v, px.shape[1]))
    cash = np.ones(n_v)
    out = np.empty((n_t, n_v))
    fill_at = {int(t): k for k, t in enumerate(fill_idx)}
    for t in range(n_t):
        k = fill_at.get(t)
        if k is not None:
            value = cash + units @ px[t]
            w = tg[:, k, :]
            units = w * value[:, None] / px[t]
            cash = value * (1.0 - w.sum(axis=1))
        out[t] = cash + units @ px[t]
    return out


def borrow_growth(n_days: int, bps: float) -> np.ndarray:
    """Borrow accrual factor (:func:`backtest.execution.spec.borrow_factor`)."""
    return borrow_factor(n_days, bps)


__all__ = [
    "borrow_growth",
    "column_layout",
    "numpy_floor",
    "simulate_batch",
    "simulate_many",
]
