"""The report's PNGs drawn in a forked child (backtest.report.tearsheet.PngJob) are the PNGs drawn in-process.

Each case renders the same tiny run folder twice, once with the child and once with it
turned off (``RMPBT_REPORT_FORK=0``), and compares the PNG files byte for byte.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from backtest.report import render_run
from backtest.report.tearsheet import PngJob
from tests.test_report import make_run, write_tiny_data

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the PNG child needs fork")
PNGS = ("equity.png", "drawdown.png")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("results"), write_tiny_data(tmp_path_factory.mktemp("data")))


def pngs(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in PNGS}


def fresh(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for n in (*PNGS, "tearsheet.html"):
        (dest / n).unlink(missing_ok=True)
    return dest


@linux_only
def test_child_pngs_equal_in_process_pngs(run_folder, tmp_path, monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    monkeypatch.setenv("RMPBT_REPORT_FORK", "1")  # whatever the machine's load
    a = fresh(run_folder, tmp_path / "child")
    job = PngJob.start()
    assert job is not None
    render_run(a, png_job=job)
    assert not job.proc.is_alive() and job.proc.exitcode == 0  # the child drew them
    monkeypatch.setenv("RMPBT_REPORT_FORK", "0")
    assert PngJob.start() is None
    b = fresh(run_folder, tmp_path / "alone")
    render_run(b)
    assert pngs(a) == pngs(b)
    assert (a / "tearsheet.html").exists()


@linux_only
def test_parent_draws_when_the_child_fails(run_folder, tmp_path, monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    ref = fresh(run_folder, tmp_path / "ref")
    monkeypatch.setenv("RMPBT_REPORT_FORK", "0")
    render_run(ref)
    monkeypatch.setenv("RMPBT_REPORT_FORK", "1")

    def boom(data, folder):
        raise RuntimeError("no matplotlib today")

    # the child forks with this writer (and fails); the parent then draws with the real one
    monkeypatch.setattr("backtest.report.tearsheet.png_writer", lambda: boom)
    job = PngJob.start()
    assert job is not None
    monkeypatch.undo()
    out = fresh(run_folder, tmp_path / "fallback")
    render_run(out, png_job=job)
    assert job.proc.exitcode not in (0, None)
    assert pngs(out) == pngs(ref)


@linux_only
def test_an_unused_child_is_cancelled(tmp_path, monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    monkeypatch.setenv("RMPBT_REPORT_FORK", "1")
    job = PngJob.start()
    assert job is not None
    job.close()
    assert not job.proc.is_alive() and job.proc.exitcode == 0


def test_busy_machine_or_switch_off_means_no_child(monkeypatch):
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 2)
    monkeypatch.delenv("RMPBT_REPORT_FORK", raising=False)
    monkeypatch.setattr("backtest.forking.runnable_tasks", lambda: 2.0)  # no idle core
    assert PngJob.start() is None
    monkeypatch.setattr("backtest.forking.usable_cores", lambda: 1)
    monkeypatch.setenv("RMPBT_REPORT_FORK", "1")
    assert PngJob.start() is None  # one core: never
