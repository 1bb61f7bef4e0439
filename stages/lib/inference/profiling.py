"""Where inference time goes: time per operator type and kernel, from each runtime's profiler.

The kernel names say whether INT8 really ran on integer instructions (e.g. OpenVINO's
`brgemm_avx512_amx_I8`, ONNX Runtime's `MatMulIntegerToFloat`) or fell back to float.
"""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from .engines import openvino_config, ort_feed, ort_options, ort_session


def _table(totals: dict, runs: int, top: int) -> pd.DataFrame:
    rows = [{"op": op, "kernel": kernel, "ms_per_run": round(us / runs / 1000.0, 3)}
            for (op, kernel), us in totals.items()]
    frame = pd.DataFrame(rows, columns=["op", "kernel", "ms_per_run"])
    frame = frame.sort_values("ms_per_run", ascending=False, kind="stable")
    total = frame["ms_per_run"].sum()
    frame["share_%"] = (100.0 * frame["ms_per_run"] / total).round(1) if total else 0.0
    return frame.head(top).reset_index(drop=True)


def onnxruntime_ops(path: Path, batch: dict, threads: int, runs: int, top: int = 8,
                    scratch: Path | None = None) -> pd.DataFrame:
    options = ort_options(threads)
    options.enable_profiling = True
    if scratch:
        options.profile_file_prefix = str(scratch / "ort_profile")
    sess = ort_session(path, options)
    inputs = ort_feed(sess, batch)
    sess.run(None, inputs)  # the first run allocates; it is left out below
    first_end = None
    for _ in range(runs):
        sess.run(None, inputs)
    profile = Path(sess.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink()
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    if runs_seen:
        first_end = runs_seen[0]["ts"] + runs_seen[0]["dur"]
    totals = defaultdict(float)
    for event in events:
        args = event.get("args", {})
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") \
                and (first_end is None or event["ts"] > first_end):
            totals[(args.get("op_name", "?"), args.get("provider", "?"))] += event["dur"]
    return _table(totals, runs, top)


def openvino_ops(path: Path, batch: dict, threads: int, float_precision: str, runs: int,
                 top: int = 8) -> pd.DataFrame:
    import openvino as ov
    compiled = ov.Core().compile_model(
        str(path), "CPU", {**openvino_config(threads, float_precision), "PERF_COUNT": True})
    request = compiled.create_infer_request()
    inputs = {port.get_any_name(): batch[port.get_any_name()].cpu().numpy().astype(np.int64)
              for port in compiled.inputs}
    request.infer(inputs)
    totals = defaultdict(float)
    for _ in range(runs):
        request.infer(inputs)
        for info in request.profiling_info:
            if info.status == info.Status.EXECUTED:
                totals[(info.node_type, info.exec_type)] += info.real_time.total_seconds() * 1e6
    return _table(totals, runs, top)


def engine_ops(engine, batch: dict, runs: int = 3) -> pd.DataFrame:
    """Time per operator of an ONNX Runtime or OpenVINO engine, run as that engine runs."""
    if engine.runtime == "onnxruntime":
        return onnxruntime_ops(engine.path, batch, engine.threads, runs)
    return openvino_ops(engine.path, batch, engine.threads, engine.float_precision, runs)
