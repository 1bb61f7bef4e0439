"""PNG pictures of the results, for people who would rather look than read a table."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

FP32_COLOR, INT8_COLOR = "#4c72b0", "#dd8452"


def plot_comparison(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Headline metric, file size and latency, one bar per model."""
    labels = [f"{p}\n{r}" for p, r in zip(table["precision"], table["runtime"])]
    colors = [FP32_COLOR if p == "FP32" else INT8_COLOR for p in table["precision"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, column, title in zip(axes, ["main", "size_mb", "latency_ms"],
                                 [f"{metric} (%)", "model file (MB)", "latency (ms, median)"]):
        bars = ax.bar(labels, table[column], color=colors)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_title(title)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_ylim(max(0.0, table["main"].min() - 10), min(100.0, table["main"].max() + 3))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(curves_dir: Path, metric: str, path: Path) -> None:
    """Training loss and per-epoch headline metric of FP32 fine-tuning and QAT."""
    fig, (loss_ax, eval_ax) = plt.subplots(1, 2, figsize=(12, 4))
    offset = 0
    for stage, color in (("finetune", FP32_COLOR), ("qat", INT8_COLOR)):
        loss = pd.read_csv(curves_dir / f"{stage}_loss.csv")
        evals = pd.read_csv(curves_dir / f"{stage}_eval.csv")
        label = "FP32 fine-tune" if stage == "finetune" else "QAT (INT8)"
        loss_ax.plot(loss["step"] + offset, loss["loss"], color=color, label=label)
        eval_ax.plot(evals["step"] + offset, evals["main"], "o-", color=color, label=label)
        offset += int(loss["step"].max())
    loss_ax.set(title="training loss", xlabel="step (QAT continues after FP32)")
    eval_ax.set(title=f"validation {metric} (%)", xlabel="step")
    for ax in (loss_ax, eval_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
