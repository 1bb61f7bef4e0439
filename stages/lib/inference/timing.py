"""Latency figures: warm-up, repeats, median and p90, pinned threads."""
import os
import time

import numpy as np
import torch


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


def time_torch(model, batch: dict, device, settings: dict) -> dict:
    threads = thread_count(settings["threads"])
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    batch = {k: v.to(device) for k, v in batch.items()}
    model.eval()

    def run():
        with torch.no_grad():
            model(**batch)
        if device.type == "cuda":
            torch.cuda.synchronize()
    try:
        return {**time_call(run, settings["warmup"], settings["repeats"]),
                "threads": threads, "device": device.type}
    finally:
        torch.set_num_threads(previous)


def time_onnx(sess, batch: dict, settings: dict) -> dict:
    from .onnx_session import feed
    inputs = feed(sess, batch)
    return {**time_call(lambda: sess.run(None, inputs), settings["warmup"], settings["repeats"]),
            "threads": thread_count(settings["threads"]), "device": "cpu"}
