"""Stage 6: the results table, FP32 next to INT8, PyTorch next to ONNX Runtime.

Outputs: reports/metrics.json (accuracy and size, for `dvc metrics diff`),
reports/latency.json (timings, kept apart because they vary run to run),
reports/results.{md,csv} and reports/comparison.png.
"""
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from stages.lib.data import check_prepared_task  # noqa: E402
from stages.lib.errors import run_stage  # noqa: E402
from stages.lib.outputs import read_json, write_json  # noqa: E402
from stages.lib.params import load_params  # noqa: E402
from stages.lib.results import build_table, split_timings, to_markdown  # noqa: E402
from stages.lib.tasks import get_task  # noqa: E402

DATA_DIR, REPORTS = Path("data/prepared"), Path("reports")
EVALUATIONS = [REPORTS / "eval" / "pytorch.json", REPORTS / "eval" / "onnx.json"]


def plot_comparison(table, metric: str, path: Path) -> None:
    labels = [f"{p}\n{r}" for p, r in zip(table["precision"], table["runtime"])]
    colors = ["#4c72b0" if p == "FP32" else "#dd8452" for p in table["precision"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, column, title in zip(axes, [metric, "size_mb", "latency_ms"],
                                 [f"{metric} (%)", "model file (MB)", "latency (ms, median)"]):
        bars = ax.bar(labels, table[column], color=colors)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_title(title)
        ax.tick_params(axis="x", labelsize=8)
    low = table[metric].min()
    axes[0].set_ylim(max(0.0, low - 10), min(100.0, table[metric].max() + 3))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    params = load_params()
    task = get_task(params["task"])
    check_prepared_task(DATA_DIR, task)
    evaluations = {name: values for path in EVALUATIONS for name, values in read_json(path).items()}
    metrics, timings = split_timings(evaluations)

    metric_names = [k for k in evaluations["fp32"] if k not in ("main", "size_mb")
                    and k not in timings["fp32"]]
    table = build_table(evaluations, metric_names)
    data_info = read_json(DATA_DIR / "task.json")
    notes = [f"model `{params['model']['name']}`, data `{params['data']['source']}` "
             f"({', '.join(f'{s} {n}' for s, n in data_info['rows'].items())}), seed {params['seed']}",
             f"headline metric `{task.main_metric}` on `{task.eval_splits[0]}`; drop and speedup "
             "are against FP32 PyTorch",
             f"latency: batch {params['latency']['batch_size']}, "
             f"{timings['fp32']['threads']} threads, median of {params['latency']['repeats']} runs"]

    write_json(REPORTS / "metrics.json", metrics)
    write_json(REPORTS / "latency.json", timings)
    table.to_csv(REPORTS / "results.csv", index=False)
    (REPORTS / "results.md").write_text(
        to_markdown(table, f"{task.name}: FP32 vs INT8 (QAT, NNCF)", notes))
    plot_comparison(table, task.main_metric, REPORTS / "comparison.png")
    print(table.to_string(index=False))


if __name__ == "__main__":
    run_stage(main)
