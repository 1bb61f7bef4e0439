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


def plot_references(comparison: pd.DataFrame, task: str, path: Path) -> None:
    """Relative INT8 drop (% of FP32): ours next to every published figure for the task."""
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(comparison), 2) + 1.8))
    if comparison.empty:
        ax.text(0.5, 0.5, f"no published reference for {task}", ha="center", va="center")
        ax.axis("off")
    else:
        labels, values, colors = [], [], []
        for metric, rows in comparison.groupby("metric", sort=False):
            labels.append(f"ours, ONNX INT8 ({metric})")
            values.append(rows["our_drop_rel_pct"].iloc[0])
            colors.append(INT8_COLOR)
            for row in rows.itertuples():
                source, method = row.source.split(" (")[0], row.method.split(" (")[0]
                labels.append(f"{source}: {row.their_model}, {method} ({metric})")
                values.append(row.their_drop_rel_pct)
                colors.append(FP32_COLOR)
        bars = ax.barh(labels, values, color=colors)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=3)
        ax.margins(x=0.15)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set(xlabel="INT8 drop, % of FP32 (negative: INT8 scored higher)",
               title=f"{task}: INT8 drop, ours vs published")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_summary(long: pd.DataFrame, path: Path) -> None:
    """FP32 vs INT8 headline metric per task (mean, with the seed std as error bars)."""
    columns = list(dict.fromkeys(long["column"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(columns) + 2), 4.5))
    width = 0.38
    series = (("fp32", "FP32 (PyTorch)", FP32_COLOR),
              ("onnx_int8", "INT8 (ONNX Runtime)", INT8_COLOR))
    for offset, (figure, label, color) in enumerate(series):
        rows = long[long["figure"] == figure].set_index("column").loc[columns]
        x = [i + (offset - 0.5) * width for i in range(len(columns))]
        bars = ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=4,
                      color=color, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    metrics = long.drop_duplicates("column").set_index("column").loc[columns, "metric"]
    ax.set_xticks(range(len(columns)), [f"{c}\n({m})" for c, m in zip(columns, metrics)],
                  fontsize=8)
    low = long[long["figure"].isin(["fp32", "onnx_int8"])]["mean"].min()
    ax.set_ylim(max(0.0, low - 15), 100)
    ax.set(ylabel="headline metric (%)", title="FP32 vs INT8 per task (error bars: std over seeds)")
    ax.legend(loc="upper left", ncols=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
