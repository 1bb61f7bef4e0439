"""The FP32 vs INT8 results table: one row per model, drops and speedups against FP32 PyTorch."""
import pandas as pd

ROWS = {"fp32": ("FP32", "PyTorch"), "int8": ("INT8", "PyTorch"),
        "onnx_fp32": ("FP32", "ONNX Runtime"), "onnx_int8": ("INT8", "ONNX Runtime")}
BASELINE = "fp32"
TIMING_KEYS = ("latency_ms", "latency_p90_ms", "threads", "device")


def split_timings(evaluations: dict) -> tuple:
    """(metrics, timings): latency is noise for `dvc metrics diff`, so it lives apart."""
    metrics, timings = {}, {}
    for name, values in evaluations.items():
        metrics[name] = {k: v for k, v in values.items() if k not in TIMING_KEYS}
        timings[name] = {k: v for k, v in values.items() if k in TIMING_KEYS}
    return metrics, timings


def metric_columns(model_metrics: dict) -> list:
    """The task's own metric names, in registry order (main and size are columns of their own)."""
    return [k for k in model_metrics if k not in ("main", "size_mb")]


def build_table(evaluations: dict, metric_names: list) -> pd.DataFrame:
    base = evaluations[BASELINE]
    rows = []
    for name, (precision, runtime) in ROWS.items():
        values = evaluations[name]
        drop = base["main"] - values["main"]
        rows.append({
            "model": name, "precision": precision, "runtime": runtime,
            **{metric: values[metric] for metric in metric_names},
            "main": values["main"],
            "drop": round(drop, 2),
            "drop_rel_%": round(100.0 * drop / base["main"], 2) if base["main"] else float("nan"),
            "size_mb": values["size_mb"],
            "latency_ms": values["latency_ms"],
            "speedup": round(base["latency_ms"] / values["latency_ms"], 2),
        })
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, title: str, notes: list) -> str:
    lines = [f"# {title}", "", table.to_markdown(index=False, floatfmt=".2f"), ""]
    return "\n".join(lines + [f"- {note}" for note in notes]) + "\n"
