"""The data-source registry (backtest.data.registry) and its example: the parquet-folder source.

* every row of ``SOURCES`` opens (its module imports, its class has ``from_request`` and
  ``load``) and the config accepts exactly the registered names, with a "did you mean";
* the parquet source is the csv source in another file format: a hand-built csv folder and
  its parquet copy load the same market and give the same metrics, and every fault the csv
  source refuses is refused by the parquet source with the same message.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.config import DataConfig, config_from_dict
from backtest.data.csv_source import CsvSource
from backtest.data.parquet_source import ParquetSource
from backtest.data.registry import MACRO_ONLY, SOURCES, SourceRequest
from backtest.data.sources import make_source, source_class
from backtest.errors import ConfigError, DataError
from backtest.pipeline import run_backtest
from tests.helpers import make_data_dir, trading_days


def to_parquet_folder(src, dest):
    """A copy of csv folder ``src`` with every ``X.csv`` rewritten as ``X.parquet`` (dates as text)."""
    for f in src.rglob("*.csv"):
        out = dest / f.relative_to(src).with_suffix(".parquet")
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.read_csv(f, dtype={"date": str}).to_parquet(out, index=False)
    return dest


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    days = trading_days("2019-01-02", 320)
    rate = pd.Series(np.linspace(2.4, 1.5, len(days)).round(2), index=days)
    vix = pd.Series(np.linspace(15.0, 25.0, len(days)).round(2), index=days)
    csv = make_data_dir(root / "csv", tickers=("SPY", "IEF", "GLD"), n=len(days), start="2019-01-02", seed=3,
                        macro={"DTB3": rate, "VIX": vix})
    return csv, to_parquet_folder(csv, root / "parquet")


# ------------------------------------------------------------------------ the registry


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_row_opens_a_class_with_from_request_and_load(name):
    cls = source_class(SOURCES[name])
    assert callable(getattr(cls, "from_request", None)) and callable(getattr(cls, "load", None))
    assert cls.name == name
    assert SOURCES[name].macro and all(m in SOURCES or m in MACRO_ONLY for m in SOURCES[name].macro)


@pytest.mark.parametrize(("data", "needle"), [
    ({"source": "parqet"}, "data.source: unknown data source 'parqet' (did you mean 'parquet'?)"),
    ({"source": "bloomberg"}, "data.source: unknown data source 'bloomberg' (known: csv, parquet, sample, yahoo)"),
    ({"source": "yahoo", "macro_source": "fredd"}, "data.macro_source: unknown macro source 'fredd' (did you mean 'fred'?)"),
    ({"source": "csv", "macro_source": "fred"}, "data.macro_source: 'fred' cannot be combined with source 'csv' (it takes: csv)"),
    ({"source": "sample", "macro_source": "csv"}, "'csv' cannot be combined with source 'sample' (it takes: sample)"),
    ({"source": "parquet", "macro_source": "csv"}, "'csv' cannot be combined with source 'parquet' (it takes: parquet)"),
])
def test_config_checks_source_names_against_the_registry(data, needle):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"data": data, "strategies": []}, "c.yaml")
    assert str(err.value).startswith("c.yaml: ") and needle in str(err.value)


def test_every_registered_pair_is_accepted_and_folders_are_required():
    for name, info in SOURCES.items():
        for macro in info.macro:
            DataConfig(source=name, macro_source=macro)
    with pytest.raises(ConfigError, match=r"^data.dir: the parquet source needs a folder \(data.dir or --data-dir\)$"):
        make_source(DataConfig(source="parquet"))
    with pytest.raises(ConfigError, match=r"^data.dir: macro_source 'csv' needs a folder$"):
        make_source(DataConfig(source="yahoo", macro_source="csv"))


def test_make_source_opens_the_row_with_the_config_request(folders, monkeypatch):
    csv, pq = folders
    src = make_source(DataConfig(source="parquet", dir="ignored"), data_dir=str(pq))
    assert isinstance(src, ParquetSource) and src.root == pq
    seen = []
    monkeypatch.setattr(ParquetSource, "from_request", classmethod(lambda cls, req: seen.append(req) or "opened"))
    cfg = DataConfig(source="parquet", dir=str(pq), seed=11, allow=[{"series": "SPY", "date": "2019-03-01",
                                                                     "kind": "spike"}])
    assert make_source(cfg) == "opened"
    assert seen == [SourceRequest(folder=str(pq), macro_source="parquet",
                                  allow=(("SPY", dt.date(2019, 3, 1), "spike"),), seed=11, refresh=False)]


# ------------------------------------------------------------------- the parquet source


def test_parquet_copy_loads_the_same_market_and_gives_the_same_metrics(folders):
    csv, pq = folders
    a = CsvSource(csv).load(["SPY", "IEF", "GLD"], ["DTB3", "VIX"], None, None)
    b = ParquetSource(pq).load(["SPY", "IEF", "GLD"], ["DTB3", "VIX"], None, None)
    pd.testing.assert_frame_equal(a.prices, b.prices, check_exact=True)
    for name in ("DTB3", "VIX"):
        pd.testing.assert_series_equal(a.macro[name].values, b.macro[name].values, check_exact=True)
        pd.testing.assert_series_equal(a.macro[name].released, b.macro[name].released, check_exact=True)
    assert (a.source, b.source) == (f"csv:{csv}", f"parquet:{pq}")

    def run(source, folder):
        raw = {"name": "same", "data": {"source": source, "dir": str(folder), "universe": ["SPY", "IEF", "GLD"],
                                        "macro": ["DTB3", "VIX"]},
               "cash": {"rate": "DTB3"}, "costs": {"fee_bps": 1, "slippage_bps": 2},
               "strategies": [{"name": "sixty_forty", "kind": "fixed_weights",
                               "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
                              {"name": "inv_vol", "kind": "inverse_vol", "params": {"assets": ["SPY", "IEF", "GLD"]}}]}
        return run_backtest(config_from_dict(raw, "same.yaml"))

    ra, rb = run("csv", csv), run("parquet", pq)
    assert len(ra.metrics) == 2 and ra.metrics.notna().any(axis=None)
    pd.testing.assert_frame_equal(ra.metrics, rb.metrics, check_exact=True)
    pd.testing.assert_frame_equal(ra.regime_metrics, rb.regime_metrics, check_exact=True)


def test_parquet_accepts_typed_dates_and_refuses_times_and_zones(tmp_path):
    days = trading_days("2020-01-02", 5)
    px = [100.0, 101.0, 102.0, 101.5, 103.0]
    (tmp_path / "prices").mkdir()
    path = tmp_path / "prices" / "SPY.parquet"
    text = ParquetSource(_write(path, pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "adj_close": px})))
    ref = text.load(["SPY"], [], None, None).prices
    for dates in (days, [d.date() for d in days]):  # timestamps at midnight, datetime.date (parquet date32)
        _write(path, pd.DataFrame({"date": dates, "adj_close": px}))
        pd.testing.assert_frame_equal(ParquetSource(tmp_path).load(["SPY"], [], None, None).prices, ref,
                                      check_exact=True)
    _write(path, pd.DataFrame({"date": days + pd.Timedelta(hours=16), "adj_close": px}))
    with pytest.raises(DataError, match=r"SPY.parquet: bad date \(a time of day: 2020-01-02 16:00:00\)"):
        ParquetSource(tmp_path).load(["SPY"], [], None, None)
    _write(path, pd.DataFrame({"date": days.tz_localize("America/New_York"), "adj_close": px}))
    with pytest.raises(DataError, match=r"SPY.parquet: bad date \(dates carry a time zone"):
        ParquetSource(tmp_path).load(["SPY"], [], None, None)


def _write(path, frame):
    frame.to_parquet(path, index=False)
    return path.parent.parent


def _faults():
    days = trading_days("2020-01-02", 40)
    text = list(days.strftime("%Y-%m-%d"))
    px = list(np.round(100 * np.cumprod(np.full(40, 1.001)), 6))
    saturday = text[:2] + ["2020-01-04"] + text[2:]  # between Friday 3rd and Monday 6th
    return {
        "duplicate date": {"date": text[:5] + [text[4]] + text[5:], "adj_close": px[:5] + [px[4]] + px[5:]},
        "unsorted": {"date": [text[1], text[0], *text[2:]], "adj_close": px},
        "non-numeric": {"date": text, "adj_close": [*px[:7], "abc", *px[8:]]},
        "non-positive": {"date": text, "adj_close": [*px[:7], -1.0, *px[8:]]},
        "spike": {"date": text, "adj_close": [*px[:7], px[7] * 1000, *px[8:]]},
        "closed day": {"date": saturday, "adj_close": [*px[:2], px[2], *px[2:]]},
        "missing column": {"date": text, "close": px},
        "bad date": {"date": [*text[:7], "2020-13-01", *text[8:]], "adj_close": px},
    }


@pytest.mark.parametrize("fault", sorted(_faults()))
def test_parquet_refuses_every_fault_csv_refuses_with_the_same_message(tmp_path, fault):
    frame = pd.DataFrame(_faults()[fault])
    if fault == "non-numeric":  # a text column (parquet columns have one type)
        frame = frame.astype(str)
    msgs = []
    for cls, write in ((CsvSource, frame.to_csv), (ParquetSource, frame.to_parquet)):
        root = tmp_path / cls.name
        (root / "prices").mkdir(parents=True)
        write(root / "prices" / f"SPY{cls.suffix}", index=False)
        with pytest.raises(DataError) as err:
            cls(root).load(["SPY"], [], None, None)
        msgs.append(str(err.value).replace(str(root), "ROOT").replace(cls.suffix, ".EXT"))
    assert msgs[0] == msgs[1]
    assert "SPY" in msgs[0]


def test_a_file_that_is_not_parquet_is_one_clear_error(tmp_path):
    (tmp_path / "prices").mkdir()
    (tmp_path / "prices" / "SPY.parquet").write_text("date,adj_close\n2020-01-02,1\n")
    with pytest.raises(DataError, match=r"SPY.parquet: cannot read Parquet \("):
        ParquetSource(tmp_path).load(["SPY"], [], None, None)
    with pytest.raises(DataError, match=r"unknown ticker IEF: no file .*IEF.parquet"):
        ParquetSource(tmp_path).load(["IEF"], [], None, None)
