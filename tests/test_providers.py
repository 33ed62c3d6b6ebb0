"""Online providers (Yahoo, FRED), their parquet cache and ``data fetch``: no network.

The network wrappers (``yahoo._yf_download``, ``fred._http_get``) are patched with
hand-built payloads shaped like the real ones; sockets are blocked as a safety net.
"""

from __future__ import annotations

import json
import socket
import sys
import types
import urllib.error
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from backtest.data import fred as fred_mod
from backtest.data import yahoo as yahoo_mod
from backtest.data.cache import Cache, format_age, with_retries
from backtest.data.fred import FredSource, parse_fred_csv
from backtest.data.yahoo import YahooSource, extract_closes
from backtest.errors import DataError

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DAYS = pd.bdate_range("2026-11-02", "2026-11-20")

FRED_NEW = b"""observation_date,DGS10
2026-11-02,4.10
2026-11-03,.
2026-11-04,4.15
2026-11-05,
2026-11-06,4.20
"""
FRED_OLD = b"""DATE,VIXCLS
2026-11-02,18.5
2026-11-03,.
2026-11-04,19.25
"""


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch):
    def guard(*args, **kwargs):
        raise AssertionError("test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache", clock=lambda: NOW)


class Sleeps(list):
    """Records the delays asked of ``sleep``."""

    def __call__(self, secs: float) -> None:
        self.append(secs)


def yf_frame(closes: dict[str, list[float]], index=DAYS, tz: str | None = None) -> pd.DataFrame:
    """A ``yf.download(..., group_by='column')`` frame: columns (Price, Ticker)."""
    idx = pd.DatetimeIndex(index, name="Date")
    if tz:
        idx = idx.tz_localize(tz)
    tickers = sorted(closes)
    cols = pd.MultiIndex.from_product(
        [["Close", "High", "Low", "Open", "Volume"], tickers], names=["Price", "Ticker"]
    )
    data = {}
    for field, t in cols:
        v = np.asarray(closes[t], dtype=float)
        data[(field, t)] = v * 1000 if field == "Volume" else v
    return pd.DataFrame(data, index=idx, columns=cols)


def ramp(start: float, n: int = len(DAYS)) -> list[float]:
    return list(start + np.arange(n, dtype=float))


def empty_yf_frame() -> pd.DataFrame:
    cols = pd.MultiIndex.from_tuples([], names=["Price", "Ticker"])
    return pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), columns=cols)


def patch_yahoo(monkeypatch, result):
    """Patch the yfinance wrapper; ``result`` is a frame, an exception, or a callable."""
    calls: list[tuple] = []

    def fake(tickers, start, end):
        calls.append((list(tickers), start, end))
        if isinstance(result, BaseException):
            raise result
        return result(tickers) if callable(result) else result

    monkeypatch.setattr(yahoo_mod, "_yf_download", fake)
    return calls


def patch_http(monkeypatch, bodies: dict[str, bytes | BaseException]):
    calls: list[str] = []

    def fake(url: str, timeout: float) -> bytes:
        calls.append(url)
        sid = url.split("id=")[1]
        out = bodies[sid]
        if isinstance(out, BaseException):
            raise out
        return out

    monkeypatch.setattr(fred_mod, "_http_get", fake)
    return calls


def seed(
    cache: Cache,
    provider: str,
    key: str,
    values: list[float],
    days_old: float = 3,
    index=DAYS,
    start=None,
    end=None,
):
    s = pd.Series(values, index=pd.DatetimeIndex(index[: len(values)]), dtype=float)
    return cache.write(provider, key, s, start, end, fetched_at=NOW - timedelta(days=days_old))


# --------------------------------------------------------------------------- yfinance shapes


def test_extract_multiindex_tz_aware():
    frame = yf_frame({"SPY": ramp(500), "TLT": ramp(90), "GLD": ramp(200)}, tz="America/New_York")
    got = extract_closes(frame, ["SPY", "TLT", "GLD"])
    assert set(got) == {"SPY", "TLT", "GLD"}
    s = got["TLT"]
    assert s.index.tz is None and s.index.name == "date"
    assert s.index[0] == pd.Timestamp("2026-11-02") and s.iloc[0] == 90.0
    assert (s.index == s.index.normalize()).all()


def test_extract_single_ticker_flat_and_swapped_levels():
    flat = yf_frame({"SPY": ramp(500)}).droplevel(1, axis=1)
    assert list(extract_closes(flat, ["spy"])["spy"][:2]) == [500.0, 501.0]
    swapped = yf_frame({"SPY": ramp(500), "TLT": ramp(90)}).swaplevel(0, 1, axis=1)
    assert extract_closes(swapped, ["TLT"])["TLT"].iloc[-1] == 90.0 + len(DAYS) - 1


def test_extract_drops_all_nan_and_empty():
    frame = yf_frame({"SPY": ramp(500), "XYZ": [np.nan] * len(DAYS)})
    assert set(extract_closes(frame, ["SPY", "XYZ"])) == {"SPY"}
    assert extract_closes(empty_yf_frame(), ["SPY"]) == {}


def test_yf_download_wrapper_arguments(monkeypatch):
    seen = {}

    def fake_download(tickers, **kwargs):
        seen.update(kwargs, tickers=tickers)
        return empty_yf_frame()

    monkeypatch.setattr(yahoo_mod.yf, "download", fake_download)
    yahoo_mod._yf_download(["SPY"], pd.Timestamp("2020-01-02"), pd.Timestamp("2020-12-31"))
    assert seen["tickers"] == ["SPY"] and seen["start"] == "2020-01-02"
    assert seen["end"] == "2021-01-01"  # yfinance end is exclusive
    assert seen["auto_adjust"] is True and seen["progress"] is False
    assert seen["threads"] is False and seen["group_by"] == "column"
    seen.clear()
    yahoo_mod._yf_download(["SPY"], None, None)
    assert seen["period"] == "max" and "start" not in seen and "end" not in seen


# --------------------------------------------------------------------------- YahooSource


def test_yahoo_parse_ok_writes_cache_and_slices(monkeypatch, cache):
    calls = patch_yahoo(monkeypatch, yf_frame({"SPY": ramp(500), "TLT": ramp(90)}))
    src = YahooSource(cache=cache, sleep=Sleeps())
    prices, notes = src.load_prices(
        ["SPY", "TLT"], pd.Timestamp("2026-11-03"), pd.Timestamp("2026-11-19")
    )
    assert notes == [] and len(calls) == 1
    assert prices["SPY"].index[0] == pd.Timestamp("2026-11-03")
    assert prices["SPY"].index[-1] == pd.Timestamp("2026-11-19")
    entry = cache.info("yahoo", "TLT")
    assert entry is not None and entry.fetched_at == NOW and entry.rows == len(DAYS)
    assert entry.requested_start == pd.Timestamp("2026-11-03")


def test_yahoo_empty_frame_names_tickers(monkeypatch, cache):
    patch_yahoo(monkeypatch, empty_yf_frame())
    with pytest.raises(DataError, match=r"yahoo returned no data for SPY, TLT \(unknown ticker"):
        YahooSource(cache=cache).load_prices(["SPY", "TLT"], None, None)


def test_yahoo_offline_logging_is_silenced_and_quoted(monkeypatch, cache, capsys):
    """yfinance offline: many log lines and a pandas warning, then an empty frame (as seen
    with curl_cffi and no DNS). rmpbt prints none of them and quotes the reason once."""
    import logging
    import warnings

    def offline(tickers):
        log = logging.getLogger("yfinance")
        log.error("Cookie/crumb fetch failed (DNSError), continuing without crumb")
        for t in tickers:
            log.error(f"Failed to get ticker '{t}' reason: Failed to perform, curl: (6) "
                      "Could not resolve host: query2.finance.yahoo.com. See https://curl.se/libcurl")
            log.error(f"${t}: possibly delisted; no timezone found")
        warnings.warn("The inplace keyword in DataFrame.rename is deprecated", FutureWarning, stacklevel=1)
        return empty_yf_frame()

    patch_yahoo(monkeypatch, offline)
    with pytest.raises(DataError) as info:
        YahooSource(cache=cache).load_prices(["SPY", "TLT"], None, None)
    msg = str(info.value)
    assert msg == ("yahoo returned no data for SPY, TLT (unknown ticker or no network: "
                   "Could not resolve host: query2.finance.yahoo.com)"), msg
    out = capsys.readouterr()
    assert out.err == "" and out.out == "", out
    # the yfinance logger is restored afterwards
    log = logging.getLogger("yfinance")
    assert log.propagate and not any(type(h).__name__ == "_Collect" for h in log.handlers)


def test_yahoo_all_nan_column_names_only_unknown(monkeypatch, cache):
    patch_yahoo(monkeypatch, yf_frame({"SPY": ramp(500), "XYZ": [np.nan] * len(DAYS)}))
    with pytest.raises(DataError) as err:
        YahooSource(cache=cache).load_prices(["SPY", "XYZ"], None, None)
    assert "no data for XYZ " in str(err.value) and "SPY" not in str(err.value)


def test_yahoo_network_error_uses_cache_with_note(monkeypatch, cache):
    seed(cache, "yahoo", "SPY", ramp(500))
    calls = patch_yahoo(monkeypatch, ConnectionError("curl: (6) Could not resolve host"))
    sleeps = Sleeps()
    prices, notes = YahooSource(cache=cache, refresh=True, sleep=sleeps).load_prices(
        ["SPY"], None, None
    )
    assert len(calls) == 4 and sleeps == [1.0, 2.0, 4.0]
    assert prices["SPY"].iloc[0] == 500.0
    assert notes == ["SPY: network failed, used cached copy from 2026-11-20 (3 days old)"]


def test_yahoo_empty_answer_falls_back_to_cache(monkeypatch, cache):
    seed(cache, "yahoo", "SPY", ramp(500))
    patch_yahoo(monkeypatch, yf_frame({"TLT": ramp(90)}))  # SPY missing from the answer
    prices, notes = YahooSource(cache=cache, refresh=True).load_prices(["SPY", "TLT"], None, None)
    assert set(prices) == {"SPY", "TLT"}
    assert notes == ["SPY: yahoo returned no data, used cached copy from 2026-11-20 (3 days old)"]


def test_yahoo_network_error_without_cache(monkeypatch, cache):
    patch_yahoo(monkeypatch, OSError("network is unreachable"))
    with pytest.raises(
        DataError,
        match=r"network error fetching yahoo prices for SPY "
        r"\(OSError: network is unreachable\) and no cached copy",
    ):
        YahooSource(cache=cache, retries=1, sleep=Sleeps()).load_prices(["SPY"], None, None)


def test_yahoo_cache_hit_skips_download_refresh_bypasses(monkeypatch, cache):
    seed(cache, "yahoo", "SPY", ramp(500), days_old=0.1)
    calls = patch_yahoo(monkeypatch, lambda t: yf_frame({"SPY": ramp(600)}))
    prices, notes = YahooSource(cache=cache).load_prices(["SPY"], None, None)
    assert calls == [] and notes == [] and prices["SPY"].iloc[0] == 500.0
    prices, _ = YahooSource(cache=cache, refresh=True).load_prices(["SPY"], None, None)
    assert len(calls) == 1 and prices["SPY"].iloc[0] == 600.0
    assert cache.read("yahoo", "SPY")[0].iloc[0] == 600.0


def test_yahoo_stale_cache_downloads_only_missing(monkeypatch, cache):
    seed(cache, "yahoo", "SPY", ramp(500), days_old=0.1)  # open-ended, fetched today
    seed(cache, "yahoo", "TLT", ramp(90), days_old=3)  # open-ended, 3 days old: stale
    calls = patch_yahoo(monkeypatch, lambda t: yf_frame({k: ramp(1) for k in t}))
    YahooSource(cache=cache).load_prices(["SPY", "TLT"], None, None)
    assert [c[0] for c in calls] == [["TLT"]]


def test_yahoo_rejects_bad_prices(monkeypatch, cache):
    bad = ramp(500)
    bad[3] = -1.0
    patch_yahoo(monkeypatch, yf_frame({"SPY": bad}))
    with pytest.raises(DataError, match="yahoo:SPY: non-positive price"):
        YahooSource(cache=cache).load_prices(["SPY"], None, None)
    assert cache.info("yahoo", "SPY") is None  # bad data are not cached
    dup = yf_frame(
        {"SPY": ramp(500, 3)}, index=pd.DatetimeIndex(["2026-11-02"] * 2 + ["2026-11-03"])
    )
    patch_yahoo(monkeypatch, dup)
    with pytest.raises(DataError, match="duplicate date 2026-11-02"):
        YahooSource(cache=cache).load_prices(["SPY"], None, None)


# --------------------------------------------------------------------------- retries


def test_retries_grow_and_give_up():
    sleeps, attempts = Sleeps(), []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise urllib.error.URLError("timed out")
        return "ok"

    assert with_retries(flaky, retries=3, backoff=0.5, sleep=sleeps) == "ok"
    assert sleeps == [0.5, 1.0]

    def down():
        raise TimeoutError("read timed out")

    sleeps.clear()
    with pytest.raises(TimeoutError):
        with_retries(down, retries=2, backoff=1.0, sleep=sleeps)
    assert sleeps == [1.0, 2.0]


# --------------------------------------------------------------------------- FRED


def test_parse_fred_new_and_old_headers():
    s = parse_fred_csv(FRED_NEW, "DGS10")
    assert list(s.index.strftime("%Y-%m-%d")) == ["2026-11-02", "2026-11-04", "2026-11-06"]
    assert s.dtype == float and list(s) == [4.10, 4.15, 4.20]
    old = parse_fred_csv(FRED_OLD, "VIXCLS")
    assert list(old) == [18.5, 19.25] and old.index.name == "date"


@pytest.mark.parametrize(
    "body, msg",
    [
        (b"<!DOCTYPE html><html>Error</html>", "did not return a CSV"),
        (b"observation_date,DGS10\n2026-11-02,abc\n", "bad value 'abc' on 2026-11-02"),
        (b"observation_date,DGS10\n2026-11-02,1\n2026-11-02,2\n", "duplicate date 2026-11-02"),
        (b"when,DGS10\n2026-11-02,1\n", "expected a date column"),
        (b"observation_date,DGS10\n2026-11-02,.\n", "series has no values"),
    ],
)
def test_parse_fred_rejects(body, msg):
    with pytest.raises(DataError, match=msg):
        parse_fred_csv(body, "DGS10")


def test_fred_maps_vix_and_caches_under_fred_id(monkeypatch, cache):
    calls = patch_http(monkeypatch, {"VIXCLS": FRED_OLD, "DGS10": FRED_NEW})
    series, notes = FredSource(cache=cache).load_macro(
        ["VIX", "DGS10"], None, pd.Timestamp("2026-11-05")
    )
    assert calls == [fred_mod.URL.format(id="VIXCLS"), fred_mod.URL.format(id="DGS10")]
    assert set(series) == {"VIX", "DGS10"} and series["VIX"].name == "VIX"
    assert series["DGS10"].index[-1] == pd.Timestamp("2026-11-04")  # cut at end
    assert cache.info("fred", "VIXCLS").rows == 2 and notes == []


def test_fred_network_error_uses_cache_with_note(monkeypatch, cache):
    seed(cache, "fred", "DGS10", [4.0, 4.1], days_old=3)
    patch_http(monkeypatch, {"DGS10": urllib.error.URLError("[Errno -3] name resolution")})
    sleeps = Sleeps()
    series, notes = FredSource(cache=cache, refresh=True, backoff=0.25, sleep=sleeps).load_macro(
        ["DGS10"], None, None
    )
    assert sleeps == [0.25, 0.5, 1.0]
    assert list(series["DGS10"]) == [4.0, 4.1]
    assert notes == ["DGS10: network failed, used cached copy from 2026-11-20 (3 days old)"]


def test_fred_network_error_without_cache(monkeypatch, cache):
    patch_http(monkeypatch, {"DGS10": urllib.error.URLError("timed out")})
    with pytest.raises(DataError) as err:
        FredSource(cache=cache, sleep=Sleeps()).load_macro(["DGS10"], None, None)
    assert str(err.value) == (
        "network error fetching FRED series DGS10 (URLError: <urlopen error timed out>) "
        "and no cached copy"
    )


def test_fred_unknown_series_not_retried(monkeypatch, cache):
    err = urllib.error.HTTPError("u", 404, "Not Found", {}, None)  # type: ignore[arg-type]
    calls = patch_http(monkeypatch, {"NOPE": err})
    sleeps = Sleeps()
    with pytest.raises(DataError, match=r"unknown FRED series NOPE \(HTTP 404\)"):
        FredSource(cache=cache, sleep=sleeps).load_macro(["NOPE"], None, None)
    assert len(calls) == 1 and sleeps == []


def test_fred_cache_hit_and_refresh(monkeypatch, cache):
    seed(cache, "fred", "DGS10", [4.0, 4.1], days_old=3)
    calls = patch_http(monkeypatch, {"DGS10": FRED_NEW})
    src = FredSource(cache=cache)
    # 3 days old, fetched after the requested end: covered.
    series, _ = src.load_macro(["DGS10"], pd.Timestamp("2020-01-01"), pd.Timestamp("2026-11-19"))
    assert calls == [] and list(series["DGS10"]) == [4.0, 4.1]
    # open-ended request needs a copy from today: downloads.
    series, _ = src.load_macro(["DGS10"], None, None)
    assert len(calls) == 1 and len(series["DGS10"]) == 3
    FredSource(cache=cache, refresh=True).load_macro(["DGS10"], None, pd.Timestamp("2026-11-01"))
    assert len(calls) == 2


# --------------------------------------------------------------------------- cache


def test_cache_round_trip_records_download_time(cache):
    s = pd.Series([1.0, 2.0, np.nan], index=pd.DatetimeIndex(DAYS[:3]))
    entry = cache.write("yahoo", "^VIX", s, pd.Timestamp("2026-11-02"), None)
    assert entry.path.name == "%5EVIX.parquet" and entry.path.parent.name == "yahoo"
    got, info = cache.read("yahoo", "^VIX")
    pd.testing.assert_series_equal(got, s.rename("^VIX").rename_axis("date"), check_freq=False)
    assert info.fetched_at == NOW and info.rows == 3
    assert info.first == DAYS[0] and info.last == DAYS[2]
    assert cache.age("yahoo", "^VIX") == timedelta(0)
    later = Cache(cache.root, clock=lambda: NOW + timedelta(days=2, hours=1))
    assert later.age("yahoo", "^VIX") == timedelta(days=2, hours=1)
    assert later.age("yahoo", "SPY") is None
    assert [p.name for p in entry.path.parent.iterdir()] == ["%5EVIX.parquet"]  # no temp left
    meta = json.loads(pq.read_schema(entry.path).metadata[b"rmpbt"])
    assert meta["fetched_at"].startswith("2026-11-23T15:00")


def test_cache_dir_precedence_and_corrupt_entry(monkeypatch, tmp_path):
    monkeypatch.setenv("RMPBT_CACHE_DIR", str(tmp_path / "env"))
    assert Cache().root == tmp_path / "env"
    assert Cache(tmp_path / "arg").root == tmp_path / "arg"
    monkeypatch.delenv("RMPBT_CACHE_DIR")
    assert "rmpbt" in str(Cache().root)
    c = Cache(tmp_path / "arg")
    c.path("fred", "X").parent.mkdir(parents=True)
    c.path("fred", "X").write_bytes(b"not parquet")
    assert c.info("fred", "X") is None and c.read("fred", "X") is None


def test_cache_covers_rules(cache):
    e = seed(cache, "yahoo", "SPY", ramp(1), days_old=3, start=pd.Timestamp("2026-11-02"))
    assert e.covers(pd.Timestamp("2026-11-05"), pd.Timestamp("2026-11-19"), NOW)
    assert not e.covers(pd.Timestamp("2026-10-01"), pd.Timestamp("2026-11-19"), NOW)  # starts later
    assert not e.covers(None, pd.Timestamp("2026-11-19"), NOW)
    assert not e.covers(pd.Timestamp("2026-11-05"), None, NOW)  # open end needs today's copy
    assert not e.covers(
        pd.Timestamp("2026-11-05"), pd.Timestamp("2026-11-21"), NOW
    )  # fetched 11-20
    bounded = seed(cache, "yahoo", "TLT", ramp(1, 5), days_old=3, end=pd.Timestamp("2026-11-06"))
    assert not bounded.covers(None, pd.Timestamp("2026-11-12"), NOW)
    assert format_age(timedelta(days=1, hours=5)) == "1 day old"
    assert format_age(timedelta(hours=2)) == "2 hours old"
    assert format_age(timedelta(minutes=5)) == "less than an hour old"


# --------------------------------------------------------------------------- data fetch


def test_fetch_all_and_cli(monkeypatch, tmp_path):
    import typer
    from typer.testing import CliRunner

    from backtest.commands import data_cmd

    patch_yahoo(monkeypatch, lambda t: yf_frame({k: ramp(100) for k in t}))
    patch_http(monkeypatch, {"VXVCLS": FRED_OLD.replace(b"VIXCLS", b"VXVCLS"), "DGS10": FRED_NEW})
    cache = Cache(tmp_path / "c", clock=lambda: NOW)
    rows = data_cmd.fetch_all(["SPY", "TLT"], ["VIX3M", "DGS10"], False, cache)
    assert [(r["name"], r["provider"], r["key"], r["rows"]) for r in rows] == [
        ("SPY", "yahoo", "SPY", len(DAYS)),
        ("TLT", "yahoo", "TLT", len(DAYS)),
        ("VIX3M", "fred", "VXVCLS", 2),
        ("DGS10", "fred", "DGS10", 3),
    ]
    assert rows[0]["cached_at"] == NOW and rows[3]["last"] == pd.Timestamp("2026-11-06")

    cfg = types.SimpleNamespace(data=types.SimpleNamespace(refresh=False))
    fake_loading = types.ModuleType("backtest.commands.loading")
    fake_loading.load_run_config = lambda path, sets=None, **kw: cfg
    fake_pipeline = types.ModuleType("backtest.pipeline")
    fake_pipeline.required_series = lambda c: (["SPY"], ["DGS10"])
    monkeypatch.setitem(sys.modules, "backtest.commands.loading", fake_loading)
    monkeypatch.setitem(sys.modules, "backtest.pipeline", fake_pipeline)
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """rmpbt."""

    data_cmd.register(app)
    (tmp_path / "run.yaml").write_text("data: {}\n")
    res = CliRunner().invoke(
        app,
        ["data", "fetch", str(tmp_path / "run.yaml"), "--data-dir", str(tmp_path / "cli")],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "SPY" in res.output and "DGS10" in res.output and "2026-11-06" in res.output
    assert Cache(tmp_path / "cli").info("fred", "DGS10") is not None
