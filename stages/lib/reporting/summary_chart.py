"""The summary's picture: FP32 vs INT8 per task over many runs (stages.tools.summarize)."""
from pathlib import Path

import pandas as pd

from .charts import FP32_COLOR, INT8_COLOR, plt, save_figure


def plot_summary(long: pd.DataFrame, path: Path) -> None:
    """FP32 vs INT8 headline metric per task (mean, with the seed std as error bars)."""
    columns = list(dict.fromkeys(long["column"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(columns) + 2), 4.5))
    width = 0.38
    series = (("fp32", "FP32 (PyTorch)", FP32_COLOR),
              ("onnx_qat", "INT8 QAT (ONNX Runtime)", INT8_COLOR))
    for offset, (figure, label, color) in enumerate(series):
        rows = long[long["figure"] == figure].set_index("column").loc[columns]
        x = [i + (offset - 0.5) * width for i in range(len(columns))]
        bars = ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=4,
                      color=color, label=label)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    metrics = long.drop_duplicates("column").set_index("column").loc[columns, "metric"]
    ax.set_xticks(range(len(columns)), [f"{c}\n({m})" for c, m in zip(columns, metrics)],
                  fontsize=8)
    low = long[long["figure"].isin(["fp32", "onnx_qat"])]["mean"].min()
    ax.set_ylim(max(0.0, low - 15), 100)
    ax.set(ylabel="headline metric (%)", title="FP32 vs INT8 per task (error bars: std over seeds)")
    ax.legend(loc="upper left", ncols=2)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
