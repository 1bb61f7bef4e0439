"""The FP32 vs INT8 results table: one row per model and runtime, drops and speedups against
FP32 PyTorch, and what each INT8 method cost to make."""
import pandas as pd

from ..quantization.methods import FP32, is_onnx, model_of
from ..tasks.metrics import drop, relative_drop

TIMING_KEYS = ("latency_ms", "latency_p90_ms", "runs", "threads", "device")


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


def row_order(evaluations: dict) -> list:
    """PyTorch rows, then ONNX Runtime rows; FP32 first in each."""
    torch_rows = [name for name in evaluations if not is_onnx(name)]
    onnx_rows = [name for name in evaluations if is_onnx(name)]
    return torch_rows + onnx_rows


def build_table(evaluations: dict, metric_names: list, records: dict) -> pd.DataFrame:
    """`records`: method -> how it was made (label, scheme, quantize_s)."""
    base = evaluations[FP32]
    rows = []
    for name in row_order(evaluations):
        values, method = evaluations[name], model_of(name)
        record = records.get(method, {"label": "FP32", "scheme": "-", "quantize_s": None})
        rows.append({
            "model": name, "method": record["label"],
            "precision": "FP32" if method == FP32 else "INT8",
            "runtime": "ONNX Runtime" if is_onnx(name) else "PyTorch",
            **{metric: values[metric] for metric in metric_names},
            "main": values["main"],
            "drop": round(drop(base["main"], values["main"]), 2),
            "drop_rel_%": round(relative_drop(base["main"], values["main"]), 2),
            "size_mb": values["size_mb"],
            "latency_ms": values["latency_ms"],
            "speedup": round(base["latency_ms"] / values["latency_ms"], 2),
            "cost_s": record["quantize_s"],
            "scheme": record["scheme"],
        })
    return pd.DataFrame(rows)


def mark_criterion(table: pd.DataFrame, max_drop: float, kind: str) -> pd.DataFrame:
    """A `criterion` column: pass / fail for each INT8 row against `report.max_drop`."""
    column = "drop_rel_%" if kind == "relative" else "drop"
    verdicts = ["n/a" if pd.isna(drop_) else "pass" if drop_ <= max_drop else "fail"
                for drop_ in table[column]]
    return table.assign(criterion=[v if p == "INT8" else "-"
                                   for v, p in zip(verdicts, table["precision"])])


def criterion_text(max_drop: float, kind: str) -> str:
    unit = "% of FP32" if kind == "relative" else "points"
    return (f"criterion: INT8 passes when `main` drops by at most {max_drop} {unit} "
            f"(report.max_drop, {kind})")


def to_markdown(table: pd.DataFrame, title: str, notes: list) -> str:
    lines = [f"# {title}", "", table.to_markdown(index=False, floatfmt=".2f"), ""]
    return "\n".join(lines + [f"- {note}" for note in notes]) + "\n"
