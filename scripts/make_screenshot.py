"""Make the README screenshot ``docs/tearsheet.png`` of the quickstart tearsheet.

Runs ``configs/quickstart.yaml`` (on the built-in synthetic sample market by default, or
on a csv folder with ``--data-dir``) into a temporary results root, renders its
tearsheet, opens it from ``file://`` in headless Chromium (Debian's ``/usr/bin/chromium``
through Playwright, no browser download) and saves the top of the page as a PNG under
1 MB (palette-quantised if needed).

Usage::

    python scripts/make_screenshot.py [--data-dir /work/shared/data] [--out docs/tearsheet.png]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
MAX_BYTES = 1_000_000


def build_tearsheet(config: Path, data_dir: str | None, root: Path) -> Path:
    """Run ``config`` into ``root`` and return the tearsheet path."""
    from backtest.config import load_config
    from backtest.pipeline import run_backtest, write_run

    cfg = load_config(config, ["report.png=false", "report.html=true"], data_dir=data_dir)
    folder = write_run(run_backtest(cfg, str(config)), root)
    page = folder / "tearsheet.html"
    if not page.exists():
        raise SystemExit(f"error: {page} was not written")
    return page


def screenshot(page: Path, width: int, height: int, chromium: str) -> bytes:
    """PNG bytes of the top ``width`` x ``height`` pixels of ``page``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            external: list[str] = []
            tab.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            tab.goto(page.resolve().as_uri(), wait_until="load")
            tab.wait_for_function("document.body.getAttribute('data-rendered') !== null", timeout=60_000)
            tab.wait_for_timeout(500)
            if external:
                raise SystemExit(f"error: the page requested {external[0]}")
            return tab.screenshot(full_page=False)
        finally:
            browser.close()


def shrink(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """Re-encode ``png`` (optimised, then palette-quantised) until it is under ``limit`` bytes."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    for colors in (None, 256, 128, 64):
        out = io.BytesIO()
        im = img if colors is None else img.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
        im.save(out, format="PNG", optimize=True)
        if out.tell() < limit:
            return out.getvalue()
    raise SystemExit(f"error: screenshot still {out.tell()} bytes after quantisation")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs" / "quickstart.yaml")
    ap.add_argument("--data-dir", default=None,
                    help="csv data folder (default: the synthetic sample market of the config)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "tearsheet.png")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=1800)
    ap.add_argument("--chromium", default=CHROMIUM)
    args = ap.parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"error: {args.chromium} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    from backtest.errors import RmpbtError

    with tempfile.TemporaryDirectory(prefix="rmpbt-shot-") as tmp:
        try:
            page = build_tearsheet(args.config, args.data_dir, Path(tmp))
        except (RmpbtError, ModuleNotFoundError) as exc:
            hint = "" if args.data_dir else " (is the sample market available? try --data-dir /work/shared/data)"
            print(f"error: {exc}{hint}", file=sys.stderr)
            return 2
        png = shrink(screenshot(page, args.width, args.height, args.chromium))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"{args.out} ({len(png) / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
