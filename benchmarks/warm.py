"""Warm caches for the benchmarks: the project's bytecode (numba's cache warms on a first run).

"Warm" in the speed targets means every on-disk cache a second run of a command would
find: numba's compiled kernels (written by a first, untimed run) and Python's bytecode.
Where ``PYTHONDONTWRITEBYTECODE`` is set (as on the dev machine) Python never writes the
project's ``.pyc`` files and would compile ~150 modules from source on every run (about
0.3-0.7 s); :func:`compile_project` writes them once, as ``pip install`` does for
installed (non-editable) packages.
"""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backtest", "strategies", "rmpbt")


def compile_project(root: Path = ROOT) -> None:
    """Write the bytecode of the project's packages (quietly; a no-op when up to date)."""
    for pkg in PACKAGES:
        if (root / pkg).is_dir():
            compileall.compile_dir(root / pkg, quiet=1)
