"""Latency figures: warm-up, repeats (and a least duration), median and p90; how many threads
"all" means."""
import os
import time

import numpy as np


def time_call(fn, warmup: int, repeats: int, min_seconds: float = 0.0) -> dict:
    """`repeats` timed runs after `warmup`, and more until they took `min_seconds`: a
    batch-1 run lasts milliseconds, and a few of them are a sample too short to trust."""
    for _ in range(warmup):
        fn()
    times = []
    while len(times) < repeats or sum(times) < 1000.0 * min_seconds:
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"latency_ms": round(float(np.median(times)), 3),
            "latency_p90_ms": round(float(np.percentile(times, 90)), 3), "runs": len(times)}


def thread_count(requested: int | None) -> int:
    return requested or len(os.sched_getaffinity(0))
