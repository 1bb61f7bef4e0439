"""The summary's picture: FP32 vs INT8 per task over many runs (stages.tools.summarize)."""
from pathlib import Path

import pandas as pd
from matplotlib.patches import Patch

from ..quantization.methods import FP32, METHODS, onnx_row, row_label
from .charts import FP32_COLOR, INT8_COLOR, plt, save_figure


def plot_summary(long: pd.DataFrame, path: Path) -> None:
    """FP32 and every ONNX model's headline metric per task (mean, with the seed std as error
    bars); each task's best INT8 model hatched and starred."""
    columns = list(dict.fromkeys(long["column"]))
    present = long[long["mean"].notna()]["figure"].unique()
    series = [(row, row_label(row)) for row in (FP32, *map(onnx_row, METHODS)) if row in present]
    colors = [FP32_COLOR, INT8_COLOR, *plt.get_cmap("tab10").colors[2:]]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(series) * len(columns) + 3), 4.5))
    width = 0.8 / len(series)
    for offset, ((figure, label), color) in enumerate(zip(series, colors)):
        rows = long[long["figure"] == figure].set_index("column").reindex(columns)
        x = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(columns))]
        bars = ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=3,
                      color=color, label=label)
        best = rows["best"].fillna(False).astype(bool).tolist()
        for bar, is_best in zip(bars, best):
            if is_best:
                bar.set(hatch="//", edgecolor="black")
        ax.bar_label(bars, labels=[f"{'★ ' if b else ''}{m:.2f}" if m == m else ""
                                   for b, m in zip(best, rows["mean"])], fontsize=7, padding=2)
    metrics = long.drop_duplicates("column").set_index("column").loc[columns, "metric"]
    ax.set_xticks(range(len(columns)), [f"{c}\n({m})" for c, m in zip(columns, metrics)],
                  fontsize=8)
    low = long[long["figure"].isin([figure for figure, _ in series])]["mean"].min()
    ax.set_ylim(max(0.0, low - 15), 100)
    ax.set(ylabel="headline metric (%)",
           title="FP32 vs INT8 per task (error bars: std over seeds; ★ best INT8)")
    # drawn by hand: a series' first bar may be hatched as a task's best
    handles = [Patch(facecolor=color, label=label) for (_, label), color in zip(series, colors)]
    handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="best INT8"))
    ax.legend(handles=handles, loc="upper left", ncols=2)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
