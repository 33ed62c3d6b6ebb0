"""Run ids, provenance and atomic writing of run folders under the results root.

A run folder is written into a hidden temporary folder next to its final place and
renamed only when complete, so an interrupted or failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backtest.errors import ResultsError, file_error, is_user_os_error

if TYPE_CHECKING:  # pragma: no cover
    from backtest.config import RunConfig

FORMAT_VERSION = 1
PACKAGES = (
    "rmpbt",
    "vectorbt",
    "pandas",
    "numpy",
    "numba",
    "cvxpy",
    "pydantic",
    "scipy",
    "statsmodels",
    "yfinance",
    "plotly",
    "matplotlib",
)
REQUIRED_FILES = (
    "config.yaml",
    "metrics.csv",
    "regime_metrics.csv",
    "returns.parquet",
    "weights.parquet",
    "provenance.json",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape results."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_commit(repo: Path | None = None) -> str:
    """Commit hash of the code (``unknown`` outside a git checkout)."""
    here = repo or Path(__file__).resolve().parents[1]
    try:
        res = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        commit = res.stdout.strip() if res.returncode == 0 else "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit != "unknown" and dirty.stdout.strip():
            commit += "-dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance_record(
    kind: str,
    run_id: str,
    cfg: RunConfig,
    config_file: str,
    data: Mapping[str, Any],
    *,
    seed: Any,
    notes: Sequence[str],
    timings: Mapping[str, float],
    **own: Any,
) -> dict[str, Any]:
    """The ``provenance.json`` record of a results folder: the common part, plus the writer's own keys.

    The one writer of the keys every folder shares (``rmpbt run``, ``tune``, ``evidence``,
    ``scenarios``, ``scenarios --calibrate``): ``format_version``, ``kind`` (the command
    that wrote the folder), ``run_id``, ``name``, ``config_file``, ``config_hash``,
    ``strategies`` (name -> kind), ``seed``, ``data`` (source and date range,
    :meth:`backtest.data.base.MarketData.provenance`), ``notes``, ``packages`` (versions,
    rmpbt's included), ``git_commit`` (``unknown`` outside a checkout) and ``timings_s``
    (rounded to 0.1 ms). The creation time is the run id's timestamp (:func:`make_run_id`).

    Parameters
    ----------
    kind : str
        ``run``, ``tune``, ``evidence``, ``scenarios`` or ``calibration``.
    run_id : str
        The folder's final name.
    cfg : RunConfig
        The run config (name, hash, strategies).
    config_file : str
        Where the config came from.
    data : Mapping
        The ``data`` block.
    seed : Any
        The seed the folder's results depend on.
    notes : sequence of str
        Notes of the run.
    timings : Mapping[str, float]
        Seconds per step.
    **own
        The writer's own keys (none may repeat a common key).

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``own`` repeats a common key (a bug).
    """
    rec: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "run_id": run_id,
        "name": cfg.name,
        "config_file": config_file,
        "config_hash": cfg.config_hash(),
        "strategies": {s.name: s.kind for s in cfg.strategies},
        "seed": seed,
        "data": dict(data),
        "notes": list(notes),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
    }
    clash = sorted(set(own) & set(rec))
    if clash:
        raise ValueError(f"provenance: {', '.join(clash)} belong to the common part")
    rec.update(own)
    return rec


def make_run_id(name: str, config_hash: str, now: datetime | None = None) -> str:
    """``<UTC timestamp>-<name>-<hash6>``, unique enough and sortable."""
    now = now or datetime.now(UTC)
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    return f"{now:%Y%m%d-%H%M%S}-{safe}-{config_hash[:6]}"


def unique_run_id(root: str | Path, run_id: str) -> str:
    """``run_id``, or ``run_id-N`` if a folder of that name already exists under ``root``.

    Only a hint: :func:`atomic_run_dir` claims the final name atomically.
    """
    root = Path(root)
    final, n = run_id, 1
    while (root / final).exists():
        final = f"{run_id}-{n}"
        n += 1
    return final


class RunDir(type(Path())):  # type: ignore[misc]
    """The temporary folder of a run being written; ``final`` is the claimed final folder."""

    final: Path


_LAST_FINAL: dict[tuple[str, str], Path] = {}
#: Every run folder (and page) completed by this process, in order: the CLI says "interrupted
#: after writing FOLDER" when a signal arrives after one is complete (``backtest.cli``).
COMPLETED: list[Path] = []
_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


def claim_run_name(root: Path, run_id: str, tries: int = 10_000) -> Path:
    """Atomically claim ``root/run_id`` (or ``run_id-N``) by creating it empty with ``os.mkdir``.

    Two processes starting identical runs in the same second get different names.

    Raises
    ------
    ResultsError
        If no free name is found within ``tries`` suffixes.
    """
    for n in range(tries):
        cand = root / (run_id if n == 0 else f"{run_id}-{n}")
        try:
            os.mkdir(cand)
        except FileExistsError:
            continue
        return cand
    raise ResultsError(f"{root}: no free run folder name for {run_id} after {tries} tries")


def _user_os_error(exc: OSError, path: Path) -> BaseException:
    return file_error(exc, path) if is_user_os_error(exc) else exc


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM/SIGHUP while cleaning up, so a second signal cannot leave debris."""
    import signal

    sigs = {getattr(signal, n) for n in _SIGNALS if hasattr(signal, n)}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _cleanup(tmp: Path, claimed: Path | None) -> None:
    with _signals_blocked():
        shutil.rmtree(tmp, ignore_errors=True)
        if claimed is not None:
            try:
                claimed.rmdir()  # only if still our empty placeholder
            except OSError:
                pass


@contextmanager
def atomic_run_dir(root: str | Path, run_id: str) -> Iterator[RunDir]:
    """Yield a temporary folder; on success rename it to its claimed final folder, else delete it.

    The final name (``root/run_id`` or ``root/run_id-N``) is claimed before writing starts
    (``os.mkdir`` is atomic), so concurrent identical runs never collide; it is
    available as ``tmp.final`` (write it into provenance as the run id). On any failure,
    including SIGINT/SIGTERM/SIGHUP (see ``backtest.cli``), the temporary folder and the
    claimed name are removed: nothing is left in ``root``.

    Raises
    ------
    ResultsError, FileError
        If ``root`` cannot be created or written (read-only, full, not a folder).
    """
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ResultsError(f"results folder {root}: exists and is not a folder") from None
    except OSError as exc:
        raise ResultsError(f"cannot create results folder {root}: {exc.strerror}") from None
    if not root.is_dir():
        raise ResultsError(f"results folder {root}: exists and is not a folder")
    claimed: Path | None = None
    tmp = root / f".tmp-{run_id}-{uuid.uuid4().hex[:8]}"
    try:
        claimed = claim_run_name(root, run_id)
        tmp.mkdir()
    except OSError as exc:
        _cleanup(tmp, claimed)
        raise _user_os_error(exc, root) from None
    handle = RunDir(tmp)
    handle.final = claimed
    try:
        yield handle
        with _signals_blocked():  # renamed and recorded as one step: a signal sees either or neither
            os.replace(tmp, claimed)  # onto our own empty placeholder: atomic
            COMPLETED.append(claimed)
    except OSError as exc:
        _cleanup(tmp, claimed)
        raise _user_os_error(exc, tmp) from None
    except BaseException:
        _cleanup(tmp, claimed)
        raise
    _LAST_FINAL[(str(root), run_id)] = claimed


def final_path(root: str | Path, run_id: str) -> Path:
    """The folder that :func:`atomic_run_dir` last wrote for ``run_id`` under ``root``."""
    root = Path(root)
    known = _LAST_FINAL.get((str(root), run_id))
    if known is not None:
        return known
    cands = sorted(p for p in root.glob(f"{run_id}*") if p.is_dir())
    return cands[-1] if cands else root / run_id


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a unique temporary file and a rename.

    The temporary file is removed on any failure (full disk, signal).

    Raises
    ------
    FileError
        If the file cannot be written (read-only, full disk, missing folder).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        with _signals_blocked():
            os.replace(tmp, path)
            COMPLETED.append(path)
    except OSError as exc:
        _unlink(tmp)
        raise _user_os_error(exc, path) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p: Path) -> None:
    with _signals_blocked():
        try:
            p.unlink()
        except OSError:
            pass


def write_json(path: Path, obj: dict) -> None:
    """Write JSON with sorted keys and a trailing newline."""
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def check_run_dir(path: str | Path) -> dict:
    """Validate that ``path`` is a complete run folder of a readable format.

    Returns
    -------
    dict
        The provenance record.

    Raises
    ------
    ResultsError
        If it is not a folder, lacks a required file, or has another format version.
    """
    p = Path(path)
    if not p.is_dir():
        raise ResultsError(f"{p}: not a folder")
    missing = [f for f in REQUIRED_FILES if not (p / f).exists()]
    if missing:
        raise ResultsError(f"{p}: not a run folder (missing {', '.join(missing)})")
    bad = [f for f in REQUIRED_FILES if not (p / f).is_file()]
    if bad:
        raise ResultsError(f"{p}/{bad[0]}: not a regular file")
    try:
        prov = json.loads((p / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ResultsError(f"{p}/provenance.json: unreadable ({type(exc).__name__})") from None
    if not isinstance(prov, dict):
        raise ResultsError(f"{p}/provenance.json: expected a JSON object")
    ver = prov.get("format_version")
    if ver != FORMAT_VERSION:
        raise ResultsError(
            f"{p}: run format version {ver!r} is not supported (expected {FORMAT_VERSION})"
        )
    return prov


def environment() -> dict[str, str]:
    """Interpreter and platform facts for provenance."""
    return {"python": sys.version.split()[0], "platform": platform.platform()}
