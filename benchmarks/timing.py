"""Shared timing helper for the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def rate(fn: Callable[[], object], batch: int, runs: int) -> tuple[float, list[float]]:
    """Items per second of ``fn`` (which makes ``batch`` items): (median, every run), after one warm-up call."""
    fn()
    rates = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        rates.append(batch / (time.perf_counter() - t))
    return statistics.median(rates), rates
