"""Latency figures: warm-up, repeats, median and p90; how many threads "all" means."""
import os
import time

import numpy as np


def time_call(fn, warmup: int, repeats: int) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"latency_ms": round(float(np.median(times)), 3),
            "latency_p90_ms": round(float(np.percentile(times, 90)), 3)}


def thread_count(requested: int | None) -> int:
    return requested or len(os.sched_getaffinity(0))
