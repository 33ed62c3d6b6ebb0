"""Small builders shared by tests: a tiny csv data folder and a CLI runner wrapper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from backtest.cli import app


def make_data_dir(root: Path, tickers=("SPY", "IEF"), n: int = 300, start: str = "2020-01-01", seed: int = 0,
                  macro: dict[str, pd.Series] | None = None) -> Path:
    """Write a csv data folder with random-walk prices (and optional macro series).

    Rows are NYSE trading days from ``start`` (no weekend or exchange holiday: the data layer
    refuses rows on days the exchange was closed, ``backtest.data.sanity``).
    """
    rng = np.random.default_rng(seed)
    days = trading_days(start, n)
    (root / "prices").mkdir(parents=True, exist_ok=True)
    (root / "fred").mkdir(exist_ok=True)
    (root / "vol").mkdir(exist_ok=True)
    for i, t in enumerate(tickers):
        px = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01 + 0.002 * i, n))
        pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "adj_close": px.round(6)}).to_csv(root / "prices" / f"{t}.csv", index=False)
    for name, s in (macro or {}).items():
        folder = "vol" if name in ("VIX", "VIX3M") else "fred"
        col = "close" if folder == "vol" else "value"
        pd.DataFrame({"date": s.index.strftime("%Y-%m-%d"), col: s.to_numpy()}).to_csv(root / folder / f"{name}.csv", index=False)
    return root


def trading_days(start: str, n: int) -> pd.DatetimeIndex:
    """The first ``n`` NYSE trading days on or after ``start``."""
    from backtest.data.exchange_calendar import exchange_days_after

    return exchange_days_after(pd.Timestamp(start) - pd.Timedelta(days=1), n)


def write_config(path: Path, data_dir: Path | None = None, **over) -> Path:
    """A minimal valid csv config (60/40) with keyword overrides of top-level blocks."""
    cfg = {
        "name": "tiny",
        "data": {"source": "csv", "dir": str(data_dir) if data_dir else "data", "universe": ["SPY", "IEF"], "macro": []},
        "rebalance": {"every": "monthly"},
        "strategies": [{"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}}],
    }
    cfg.update(over)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_cli(*args: str):
    """Invoke the CLI in-process; returns click's Result (``exit_code``, ``stdout``, ``stderr``)."""
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def assert_clean_error(result, out: Path, *needles: str) -> None:
    """Exit code 2, one line on stderr containing every needle, no traceback, nothing in ``out``."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in result.stderr + result.stdout
    for n in needles:
        assert n in err, (n, err)
    assert not out.exists() or not any(p for p in out.iterdir()), list(out.iterdir())


def write_tune_config(root: Path) -> Path:
    """A tiny tune config under ``root``: SPY/IEF/GLD csv data, a 60/40 benchmark and ``mix`` to tune."""
    data = make_data_dir(root / "data", tickers=("SPY", "IEF", "GLD"), n=1300, start="2015-01-01", seed=4)
    raw = {
        "name": "tiny",
        "data": {"source": "csv", "dir": str(data), "universe": ["SPY", "IEF", "GLD"], "macro": []},
        "costs": {"fee_bps": 1, "slippage_bps": 2},
        "report": {"html": False, "png": False},
        "strategies": [
            {"name": "sixty_forty", "kind": "fixed_weights", "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
            {"name": "mix", "kind": "fixed_weights",
             "params": {"weights": {"SPY": 0.4, "IEF": 0.3, "GLD": 0.1}, "allow_cash": True}},
        ],
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
