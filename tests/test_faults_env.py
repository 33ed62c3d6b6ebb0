"""Fault injection, part 2: the environment (disks, signals, races, run folders, caches).

Full and read-only disks are simulated with monkeypatched ``OSError``; signals and
concurrency use a handful of real subprocesses; everything else runs the real entry
point in-process (see ``tests/faults_harness.py``). Each case asserts the exit code, a
single stderr line naming the culprit, and that nothing is left in the results root.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from backtest.errors import Interrupted
from tests.faults_harness import (
    REPO,
    assert_fault,
    base_raw,
    leftovers,
    make_world,
    run_main,
    write_one_run,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A tiny csv data folder shared by the cases (they copy it before corrupting it)."""
    return make_world(tmp_path_factory.mktemp("faults"))


# ---------------------------------------------------------------- 9. results root, full and read-only disks

@pytest.fixture
def good_cfg(world, tmp_path) -> Path:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    return cfg


def _raiser(err: int, name: str = "target") -> Callable[..., Any]:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise OSError(err, os.strerror(err), name)
    return boom


DISK_CASES: list[tuple[str, str, str, int, tuple[str, ...]]] = [
    # (label, module attribute to patch, errno name, exit code, needles)
    ("full disk on parquet", "pandas.DataFrame.to_parquet", "ENOSPC", 2, ("No space left",)),
    ("full disk on csv", "pandas.DataFrame.to_csv", "ENOSPC", 2, ("No space left",)),
    ("quota on parquet", "pandas.DataFrame.to_parquet", "EDQUOT", 2, ("quota",)),
    ("read-only on csv", "pandas.DataFrame.to_csv", "EROFS", 2, ("Read-only",)),
    ("permission on json", "backtest.pipeline.write_json", "EACCES", 2, ("Permission denied",)),
    ("full disk on rename", "backtest.results.os.replace", "ENOSPC", 2, ("No space left",)),
    ("read-only claim", "backtest.results.os.mkdir", "EROFS", 2, ("Read-only",)),
    ("permission claim", "backtest.results.os.mkdir", "EACCES", 2, ("Permission denied",)),
    ("full disk on yaml", "backtest.pipeline.dump_yaml", "ENOSPC", 2, ("No space left",)),
]


@pytest.mark.parametrize(("label", "target", "err", "code", "needles"), DISK_CASES, ids=[c[0] for c in DISK_CASES])
def test_disk_faults_leave_nothing(good_cfg, tmp_path, monkeypatch, label, target, err, code, needles):
    mod, _, attr = target.rpartition(".")
    monkeypatch.setattr(f"{mod}.{attr}", _raiser(getattr(errno, err), str(tmp_path / "res" / "x")))
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    monkeypatch.undo()
    assert_fault(r, root, code, needles)


def test_results_root_is_a_file(good_cfg, tmp_path):
    root = tmp_path / "res"
    root.write_text("not a folder")
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert_fault(r, None, 2, ("res", "not a folder"))
    assert root.read_text() == "not a folder"


def test_data_fetch_cache_dir_is_a_file(good_cfg, tmp_path):
    (tmp_path / "cache").write_text("x")
    r = run_main("data", "fetch", str(good_cfg), "--data-dir", str(tmp_path / "cache"))
    assert_fault(r, None, 2, ("--data-dir", "not a folder"))


def test_results_root_cannot_be_created(good_cfg, tmp_path):
    (tmp_path / "file").write_text("x")
    root = tmp_path / "file" / "res"
    assert_fault(run_main("run", str(good_cfg), "--out", str(root), "--no-report"), None, 2, ("file/res",))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_write_removes_temp(good_cfg, tmp_path, monkeypatch, sig):
    """The handler's interrupt raised mid-write: exit 128+N, one line, nothing left."""
    import backtest.pipeline as pipeline

    real = pipeline.write_outputs

    def half(out, folder, run_id=None):
        real(out, folder, run_id)
        assert any(folder.iterdir())  # the temporary folder really was half-written
        raise Interrupted(sig)

    monkeypatch.setattr(pipeline, "write_outputs", half)
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert r.code == 128 + sig
    assert r.stderr.strip() == "interrupted: nothing written"
    assert leftovers(root) == []


def test_unexpected_bug_is_exit_1(good_cfg, tmp_path, monkeypatch):
    import backtest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_outputs", lambda *a, **k: 1 / 0)
    root = tmp_path / "res"
    r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
    assert r.code == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "internal error: ZeroDivisionError" in r.stderr
    assert leftovers(root) == []


def test_write_text_atomic_removes_temp_on_full_disk(tmp_path, monkeypatch):
    from backtest.errors import FileError
    from backtest.results import write_text_atomic

    monkeypatch.setattr("backtest.results.os.replace", _raiser(errno.ENOSPC, str(tmp_path / "c.html")))
    with pytest.raises(FileError, match="No space left"):
        write_text_atomic(tmp_path / "c.html", "<html/>")
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- 10. compare

@pytest.fixture(scope="module")
def one_run(world) -> Path:
    return write_one_run(world)


def _copy_run(src: Path, tmp: Path) -> Path:
    import shutil

    dst = tmp / "runcopy"
    shutil.copytree(src, dst)
    return dst


COMPARE_CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("truncated parquet", lambda d: (d / "returns.parquet").write_bytes((d / "returns.parquet").read_bytes()[:100]),
     ("runcopy", "not a readable run folder")),
    ("garbage holdings", lambda d: (d / "holdings.parquet").write_bytes(b"garbage" * 50), ("runcopy",)),
    ("garbage weights", lambda d: ((d / "holdings.parquet").unlink(),
                                   (d / "weights.parquet").write_bytes(b"garbage" * 50)), ("runcopy",)),
    ("garbage metrics", lambda d: (d / "metrics.csv").write_bytes(b"\x00\xff\xfe" * 40), ("runcopy",)),
    ("provenance garbage", lambda d: (d / "provenance.json").write_text("{not json"), ("provenance.json",)),
    ("provenance binary", lambda d: (d / "provenance.json").write_bytes(b"\xff\xfe\x00"), ("provenance.json",)),
    ("provenance list", lambda d: (d / "provenance.json").write_text("[1, 2]"), ("provenance.json",)),
    ("provenance future", lambda d: (d / "provenance.json").write_text(json.dumps({"format_version": 99})),
     ("format version 99",)),
    ("missing metrics", lambda d: (d / "metrics.csv").unlink(), ("missing metrics.csv",)),
    ("metrics is folder", lambda d: ((d / "metrics.csv").unlink(), (d / "metrics.csv").mkdir()),
     ("metrics.csv", "not a regular file")),
]


@pytest.mark.parametrize(("label", "corrupt", "needles"), COMPARE_CASES, ids=[c[0] for c in COMPARE_CASES])
def test_compare_bad_run_folder(one_run, tmp_path, label, corrupt, needles):
    bad = _copy_run(one_run, tmp_path)
    corrupt(bad)
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(bad), "--out", str(out / "c.html"))
    assert_fault(r, out, 2, needles)


def test_compare_same_run_twice(one_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(one_run), str(one_run) + "/", "--out", str(out / "c.html"))
    # issue 14: the same folder twice is compared once, with a note (no crash, no error)
    assert r.code == 0 and "Traceback" not in r.stderr + r.stdout, (r.code, r.stderr)
    assert "given more than once; compared once" in r.stdout
    assert [p.name for p in out.iterdir()] == ["c.html"]


def test_compare_not_a_folder(one_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run_main("compare", str(one_run), str(tmp_path / "nope"), "--out", str(out / "c.html"))
    assert_fault(r, out, 2, ("nope", "not a folder"))


def test_compare_full_disk_leaves_no_temp(one_run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr("backtest.results.os.replace", _raiser(errno.ENOSPC, str(out / "c.html")))
    r = run_main("compare", str(one_run), "--out", str(out / "c.html"))
    monkeypatch.undo()
    assert_fault(r, out, 2, ("c.html", "No space left"))


# ---------------------------------------------------------------- 11. caches

def test_cache_with_wrong_columns_counts_as_absent(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from backtest.data.cache import META_KEY, Cache

    cache = Cache(tmp_path)
    days = pd.bdate_range("2020-01-01", periods=3)
    cache.write("fred", "DTB3", pd.Series([1.0, 2.0, 3.0], index=days))
    path = cache.path("fred", "DTB3")
    meta = pq.read_schema(path).metadata[META_KEY]
    table = pa.table({"wrong": [1, 2, 3]}).replace_schema_metadata({META_KEY: meta})
    pq.write_table(table, path)
    assert cache.info("fred", "DTB3") is not None  # the metadata looks fine ...
    assert cache.read("fred", "DTB3") is None  # ... but the table is not ours: treated as absent


# ---------------------------------------------------------------- 12. races and run ids

def test_identical_runs_started_together_get_distinct_folders(tmp_path):
    from backtest.results import atomic_run_dir

    root = tmp_path / "res"
    barrier = threading.Barrier(4)
    finals: list[Path] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            barrier.wait()
            with atomic_run_dir(root, "20260101-000000-same-abcdef") as tmp:
                (tmp / "x.txt").write_text(tmp.final.name)
                time.sleep(0.05)
            finals.append(tmp.final)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({f.name for f in finals}) == 4
    assert leftovers(root) == sorted(f.name for f in finals)
    for f in finals:  # each folder holds its own claimed name: the id written inside is the final one
        assert (f / "x.txt").read_text() == f.name


def test_run_id_in_provenance_is_final_folder(good_cfg, tmp_path):
    root = tmp_path / "res"
    (root / "placeholder").mkdir(parents=True)
    folders = []
    for _ in range(2):  # same config, same second: the second gets a suffix
        r = run_main("run", str(good_cfg), "--out", str(root), "--no-report")
        assert r.code == 0, r.stderr
        folders.append(Path(r.stdout.strip().splitlines()[-1]))
    assert folders[0] != folders[1]
    for f in folders:
        assert json.loads((f / "provenance.json").read_text())["run_id"] == f.name
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- 13. real signals and processes

def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}


def _slow_cfg(world, tmp: Path) -> Path:
    raw = base_raw(world["data"])
    raw["report"] = {"html": True, "png": True}  # the report makes the write phase long enough
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    return cfg


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])  # SIGINT: in-process test above
def test_signal_while_writing_leaves_nothing(world, tmp_path, sig):
    root = tmp_path / "res"
    proc = subprocess.Popen([sys.executable, "-m", "backtest.cli", "run", str(_slow_cfg(world, tmp_path)),
                             "--out", str(root)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if root.exists() and any(p.name.startswith(".tmp-") for p in root.iterdir()):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before its folder was being written"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert err.strip().splitlines() == ["interrupted: nothing written"], err
    assert leftovers(root) == []


def test_two_identical_processes_do_not_collide(world, tmp_path):
    root = tmp_path / "res"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base_raw(world["data"]), sort_keys=False))
    cmd = [sys.executable, "-m", "backtest.cli", "run", str(cfg), "--out", str(root), "--no-report"]
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert err.strip() == "", err  # quiet success
    folders = {Path(o.strip().splitlines()[-1]) for o, _ in outs}
    assert len(folders) == 2
    assert leftovers(root) == sorted(f.name for f in folders)
    for f in folders:
        assert json.loads((f / "provenance.json").read_text())["run_id"] == f.name


# ---------------------------------------------------------------- 14. quiet success

def test_success_is_quiet_with_non_latin_names(world, tmp_path):
    raw = base_raw(world["data"])
    raw["name"] = "日本語"
    raw["report"] = {"html": True, "png": True}
    raw["strategies"][0]["name"] = "六十四十"
    raw["strategies"][1]["name"] = "Ωμέγα_$x$"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    root = tmp_path / "res"
    r = run_main("run", str(cfg), "--out", str(root))
    assert r.code == 0, r.stderr
    assert r.stderr.strip() == ""
    folder = Path(r.stdout.strip().splitlines()[-1])
    assert (folder / "equity.png").stat().st_size > 0
