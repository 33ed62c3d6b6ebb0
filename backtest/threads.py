"""Spreading a batch over threads: the batch kernels run serially on contiguous blocks.

The numba kernels release the GIL, so one Python thread per block runs them in parallel.
A numba ``prange`` version runs at the same speed but costs ~10 s to compile and ~1 s to
load from the cache in every new process (the start-up of ``rmpbt tune``). Items never
interact, so results do not depend on the number of threads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np


def threads() -> int:
    """Threads a batch is spread over (CPU count, capped by ``NUMBA_NUM_THREADS``)."""
    return max(1, min(os.cpu_count() or 1, numba.config.NUMBA_NUM_THREADS))


def run_blocks(block: Callable[[int, int], None], n_items: int, parallel: bool = True) -> None:
    """Call ``block(lo, hi)`` on contiguous blocks covering ``range(n_items)``, one thread each.

    Parameters
    ----------
    block : callable
        Runs the serial kernel on items ``lo:hi``.
    n_items : int
        Batch size.
    parallel : bool
        False: one block, in the calling thread.
    """
    n = threads() if parallel else 1
    if n <= 1 or n_items < 2:
        block(0, n_items)
        return
    bounds = np.linspace(0, n_items, min(n, n_items) + 1).astype(int)
    with ThreadPoolExecutor(max_workers=len(bounds) - 1) as pool:
        list(pool.map(lambda b: block(*b), zip(bounds[:-1], bounds[1:], strict=True)))
