"""The tearsheet and a comparison page in headless Chromium (Debian's ``/usr/bin/chromium``).

Pages are opened from ``file://`` with every request recorded: only ``file:`` and
``data:`` URLs may be requested, the console must stay free of errors, every chart
container must hold a rendered plotly SVG with data, and a screenshot must not be blank.
Skipped (with the reason) when Playwright or Chromium is not available.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import add_optional_files, make_run, write_tiny_data  # noqa: E402

from backtest.report import render_run  # noqa: E402
from backtest.report.compare import render_compare  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

CHART_CHECK = """
() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(el => ({
  id: el.id,
  svg: el.querySelectorAll('.main-svg').length,
  marks: el.querySelectorAll('g.trace path, g.trace rect, .heatmaplayer image, g.hm image').length,
  points: (el._fullData || []).reduce((n, t) => n + ((t.y && t.y.length) || (t.z && t.z.length)
                                               || (t.q1 && t.q1.length) || 0), 0),
}))
"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    pw = sync_api.sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
    except Exception as exc:  # noqa: BLE001 - any launch failure means: cannot run here
        pw.stop()
        pytest.skip(f"cannot launch {CHROMIUM}: {str(exc).splitlines()[0]}")
    yield b
    b.close()
    pw.stop()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    data = write_tiny_data(tmp_path_factory.mktemp("data"))
    root = tmp_path_factory.mktemp("results")
    a = make_run(root, data, name="base")
    b = make_run(root, data, name="costly", fee_bps=25.0)
    full = tmp_path_factory.mktemp("full") / a.name
    shutil.copytree(a, full)
    add_optional_files(full)
    render_run(full)
    cmp_path, _ = render_compare([full, b], out=root / "compare.html")
    return {"tearsheet": full / "tearsheet.html", "compare": cmp_path}


RENDERED = "document.body.getAttribute('data-rendered') !== null"


def open_page(browser, path: Path, ready: str = RENDERED):
    """Open ``path`` from file://, recording requests and errors; wait until ``ready`` holds."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_function(ready, timeout=60_000)
    page.wait_for_timeout(300)
    return page, requests, errors


def check_page(browser, path: Path) -> None:
    page, requests, errors = open_page(browser, path)
    try:
        assert not errors, errors
        external = [u for u in requests if not u.startswith(("file:", "data:"))]
        assert not external, f"network requests: {external[:5]}"
        charts = page.evaluate(CHART_CHECK)
        assert len(charts) >= 8
        assert int(page.evaluate("document.body.getAttribute('data-rendered')")) == len(charts)
        for c in charts:
            assert c["svg"] >= 1, c
            assert c["marks"] >= 1, c
            assert c["points"] >= 1, c
        png = page.screenshot(full_page=False)
        from PIL import Image, ImageStat

        img = Image.open(io.BytesIO(png)).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 15, "screenshot looks blank"
        page.locator("#equity").scroll_into_view_if_needed()
        chart = page.locator("#equity .plotly-graph-div")
        assert ImageStat.Stat(Image.open(io.BytesIO(chart.screenshot())).convert("L")).stddev[0] > 15
    finally:
        page.close()


def test_tearsheet_in_browser(browser, pages):
    check_page(browser, pages["tearsheet"])


def test_compare_page_in_browser(browser, pages):
    check_page(browser, pages["compare"])


def test_log_toggle(browser, pages):
    page, _, errors = open_page(browser, pages["tearsheet"])
    try:
        gd = "document.querySelector('#equity .plotly-graph-div')"
        assert page.evaluate(f"{gd}._fullLayout.yaxis.type") == "linear"
        page.locator("#equity .updatemenu-button", has_text="log").click()
        page.wait_for_function(f"{gd}._fullLayout.yaxis.type === 'log'", timeout=5_000)
        assert not errors, errors
    finally:
        page.close()


def test_tune_page_in_browser(browser, tmp_path):
    """``tune.html`` (heatmap, IS/OOS scatter, PBO logits, noise null, CPCV paths, OOS track): offline, no
    errors, charts drawn."""
    from PIL import Image, ImageStat

    from tests.helpers import run_cli, write_tune_config

    cfg = write_tune_config(tmp_path)
    w = "strategies.mix.params.weights."
    r = run_cli("tune", str(cfg), "--grid", w + "SPY=0.2:0.6:0.1", "--grid", w + "GLD=0:0.3:0.1",
                "--where", "SPY + GLD <= 0.7", "--strategy", "mix", "--split", "2017-06-01",
                "--cv", "cpcv:4,2", "--out", str(tmp_path / "res"))
    assert r.exit_code == 0, r.stderr
    page_path = Path(r.stdout.strip().splitlines()[-1]) / "tune.html"

    page, requests, errors = open_page(
        browser, page_path, ready="document.querySelectorAll('.plotly-graph-div .main-svg').length >= 3")
    try:
        assert not errors, errors
        assert not [u for u in requests if not u.startswith(("file:", "data:"))], requests[:5]
        charts = page.evaluate(CHART_CHECK)
        assert sorted(c["id"] for c in charts) == ["cpcv", "heatmap", "null", "oos", "pbo", "scatter"]
        for c in charts:
            assert c["svg"] >= 1 and c["points"] >= 1, c
        img = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 15, "screenshot looks blank"
    finally:
        page.close()


LINE_STYLES = """
() => {
  const gd = document.querySelector('#equity .plotly-graph-div');
  return (gd._fullData || []).map(t => [t.line.color, t.line.dash]);
}
"""


def test_compare_page_with_24_lines(browser, tmp_path):
    """24 strategies on one comparison page: every line has its own colour x dash style."""
    from test_report import tiny_config

    from backtest.pipeline import run_backtest, write_run

    data = write_tiny_data(tmp_path / "data")
    folders = []
    for run, fee in (("lo", 1.0), ("hi", 30.0)):
        cfg = tiny_config(data, name=run, fee_bps=fee)
        raw = cfg.resolved_dict()
        raw["strategies"] = [{"name": f"s{i:02d}", "kind": "fixed_weights",
                              "params": {"weights": {"SPY": i / 12, "IEF": 1 - i / 12}}} for i in range(12)]
        raw["benchmark"] = None
        cfg = type(cfg).model_validate(raw)
        folders.append(write_run(run_backtest(cfg), tmp_path / "res", report=False))
    path, comp = render_compare(folders, out=tmp_path / "cmp24.html")
    assert len(comp.data.strategies) == 24
    page, requests, errors = open_page(browser, path)
    try:
        assert not errors, errors
        assert not [u for u in requests if not u.startswith(("file:", "data:"))], requests[:5]
        styles = page.evaluate(LINE_STYLES)
        assert len(styles) == 24
        assert len({tuple(s) for s in styles}) == 24, styles
        # the settings table fits or scrolls inside its box: the page itself does not scroll sideways
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    finally:
        page.close()


def test_now_page_in_browser(browser, tmp_path):
    """``now.html``: self-contained (file:// only), no console errors, tables drawn, fits the window."""
    from backtest.config import config_from_dict
    from backtest.now import compute_now, write_now

    raw = {"name": "nowpage", "data": {"source": "sample", "start": "2025-06-01"},
           "strategies": [{"name": "sixty_forty", "kind": "fixed_weights",
                           "params": {"weights": {"SPY": 0.6, "IEF": 0.4}}},
                          {"name": "steepener", "kind": "steepener"}]}
    rep = compute_now(config_from_dict(raw, "nowpage"), "nowpage", today="2026-12-01", capital=250_000)
    folder = write_now(rep, tmp_path)
    page, requests, errors = open_page(browser, folder / "now.html", ready="document.readyState === 'complete'")
    try:
        assert not errors, errors
        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert page.locator("table").count() >= 4
        assert "data ends 2026-07-13" in page.locator(".warn").first.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        from PIL import Image, ImageStat

        img = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
        assert ImageStat.Stat(img).stddev[0] > 15, "screenshot looks blank"
    finally:
        page.close()
