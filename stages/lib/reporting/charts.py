"""PNG pictures of the results, for people who would rather look than read a table."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..core.files import atomic_file
from ..tasks.own import OWN

FP32_COLOR, INT8_COLOR = "#4c72b0", "#dd8452"


def plot_comparison(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Headline metric, file size, latency and cost to make, one bar per model and runtime."""
    runtimes = {"PyTorch": "PT", "ONNX Runtime": "ORT"}
    labels = [f"{m}\n{runtimes.get(r, r)}" for m, r in zip(table["method"], table["runtime"])]
    colors = [FP32_COLOR if p == "FP32" else INT8_COLOR for p in table["precision"]]
    panels = [("main", f"{metric} (%)"), ("size_mb", "model file (MB)"),
              ("latency_ms", "latency (ms, median)"), ("cost_s", "INT8 cost (s, wall time)")]
    fig, axes = plt.subplots(2, 2, figsize=(max(12, 1.7 * len(table)), 8))
    for ax, (column, title) in zip(axes.flat, panels):
        values = pd.to_numeric(table[column], errors="coerce").fillna(0.0)
        bars = ax.bar(labels, values, color=colors)
        ax.bar_label(bars, fmt="%.2f" if column != "cost_s" else "%.0f", fontsize=8)
        ax.set_title(title)
        ax.tick_params(axis="x", labelsize=7)
    axes[0, 0].set_ylim(max(0.0, table["main"].min() - 10), min(100.0, table["main"].max() + 3))
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_curves(sources: list, metric: str, path: Path) -> None:
    """Training loss and per-epoch headline metric; `sources`: (folder, stage, label) for FP32
    fine-tuning then QAT, read from <folder>/<stage>_{loss,eval}.csv."""
    fig, (loss_ax, eval_ax) = plt.subplots(1, 2, figsize=(12, 4))
    offset = 0
    for (folder, stage, label), color in zip(sources, (FP32_COLOR, INT8_COLOR)):
        loss = pd.read_csv(Path(folder) / f"{stage}_loss.csv")
        evals = pd.read_csv(Path(folder) / f"{stage}_eval.csv")
        loss_ax.plot(loss["step"] + offset, loss["loss"], color=color, label=label)
        eval_ax.plot(evals["step"] + offset, evals["main"], "o-", color=color, label=label)
        offset += int(loss["step"].max()) if not loss.empty else 0
    loss_ax.set(title="training loss", xlabel="step (QAT continues after FP32)")
    eval_ax.set(title=f"validation {metric} (%)", xlabel="step")
    for ax in (loss_ax, eval_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def plot_references(comparison: pd.DataFrame, task: str, path: Path) -> None:
    """Relative INT8 drop (% of FP32): ours next to every published figure for the task."""
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(comparison), 2) + 1.8))
    if comparison.empty:
        text = ("none published for your data" if task == OWN
                else f"no published reference for {task}")
        ax.text(0.5, 0.5, text, ha="center", va="center")
        ax.axis("off")
    else:
        labels, values, colors = [], [], []
        for (metric, ours), rows in comparison.groupby(["metric", "our_model"], sort=False):
            labels.append(f"ours, {ours} ({metric})")
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
    save_figure(fig, path)
    plt.close(fig)


def plot_benchmark(rows: list, seq: int, threads: int, path: Path) -> None:
    """Median latency of every engine at each batch size (one panel each), at one sequence
    length and thread count: float engines blue, INT8 orange; the fastest float is the line
    to beat."""
    frame = pd.DataFrame(rows)
    frame = frame[(frame["seq"] == seq) & (frame["threads"] == threads)]
    batches = sorted(frame["batch"].unique())
    fig, axes = plt.subplots(1, len(batches), figsize=(7 * len(batches), 5), squeeze=False)
    for ax, batch in zip(axes[0], batches):
        part = frame[frame["batch"] == batch].sort_values("median_ms", kind="stable")
        labels = [f"{m}\n{r}\n{p}" for m, r, p in zip(part["model"], part["runtime"],
                                                       part["precision"])]
        int8 = part["precision"].str.startswith("INT8")
        bars = ax.barh(labels, part["median_ms"],
                       color=[INT8_COLOR if flag else FP32_COLOR for flag in int8])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
        if (~int8).any():
            ax.axvline(part.loc[~int8, "median_ms"].min(), color="grey", linestyle="--",
                       linewidth=1)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=6)
        ax.set_title(f"batch {batch}, sequence {seq}, {threads} threads: median ms")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def save_figure(fig, path: Path) -> None:
    with atomic_file(path) as scratch:
        fig.savefig(scratch, dpi=100, format="png")
