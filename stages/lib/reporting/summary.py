"""Many runs in one table: FP32 and INT8 per task (AIMET's GLUE layout, with an average
column), and mean ± std over seeds where several were run (as Q8BERT reports).

Runs come from experiment_runs, grouped by configuration: one cell per group.
"""
import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ..quantization.methods import FP32, METHODS, model_of, onnx_row, row_label, torch_methods
from ..tasks.metrics import drop, relative_drop
from ..tasks.own import headline_metric
from .experiment_runs import INT8_ONNX_ROWS, Run

# Every model a run may have scored, FP32 first; a row stays empty where no run had it.
ROWS = {row: row_label(row) for row in
        [FP32, *torch_methods(list(METHODS)), *map(onnx_row, METHODS)]}
# The methods table: each ONNX model and the method that made it, as the effort grows.
METHOD_TABLE = {onnx_row(FP32): ("FP32", None),
                **{onnx_row(m.name): (m.label, m.name)
                   for m in sorted(METHODS.values(), key=lambda m: m.effort)}}
# Drops of every ONNX INT8 model against FP32 PyTorch: in points, and in % of FP32.
DROP_ROWS = {**{f"drop:{m}": f"drop, {row_label(onnx_row(m))}" for m in METHODS},
             **{f"drop_rel:{m}": f"relative drop %, {row_label(onnx_row(m))}" for m in METHODS}}


# Marks a cell whose method chose among models on the split it is scored on (see unranked).
PICKED_ON_SCORED_SPLIT = "†"


def unranked(figure: str, members: list) -> bool:
    """Whether the figure belongs to a method some of the column's runs made by choosing
    among models on the validation split the figure is read from: it is shown, marked, and
    not ranked as the best INT8 model, since that choice alone can lift it."""
    method = METHODS.get(model_of(figure.split(":")[-1]))
    return bool(method) and any(method.picks_on_scored_split(run.params) for run in members
                                if onnx_row(method.name) in run.metrics)


def ours(method: str) -> str:
    return f"ours: {row_label(onnx_row(method))}, mean over the runs above"


def run_values(run: Run) -> dict:
    """The headline figures of one run: main per model, and each ONNX INT8 model's drops
    (nan for a method the run did not make)."""
    values = {name: run.metrics.get(name, {}).get("main", np.nan) for name in ROWS}
    for method in METHODS:
        values[f"drop:{method}"] = drop(values[FP32], values[onnx_row(method)])
        values[f"drop_rel:{method}"] = relative_drop(values[FP32], values[onnx_row(method)])
    return values


def mean_std(values) -> tuple:
    """Mean and sample standard deviation (n - 1); std is nan for a single run."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return float(values.mean()), std


def interval_half_width(std: float, n: int, level: float = 0.95) -> float:
    """Half the width of the Student t interval of a mean over n runs (nan below 2 runs)."""
    if n < 2:
        return float("nan")
    return float(student_t.ppf((1 + level) / 2, n - 1) * std / np.sqrt(n))


def cell_text(mean: float, std: float) -> str:
    return f"{mean:.2f}" if np.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def best_rows(long: pd.DataFrame) -> dict:
    """column -> its best ONNX INT8 model: the highest mean headline metric, the method that
    takes less to make on a tie, among the ranked ones."""
    effort = {onnx_row(m.name): m.effort for m in METHODS.values()}
    int8 = long[long["figure"].isin(INT8_ONNX_ROWS) & long["mean"].notna() & long["ranked"]]
    return {column: min(rows.itertuples(), key=lambda r: (-r.mean, effort[r.figure])).figure
            for column, rows in int8.groupby("column", sort=False)}


def marked_cell(row) -> str:
    text = cell_text(row.mean, row.std)
    if row.best:
        return f"**{text}**"
    return text if row.ranked else f"{text} {PICKED_ON_SCORED_SPLIT}"


def summary_tables(groups: dict) -> tuple:
    """(table, long): the multi-task table of text cells with an `average` column, and the
    numbers behind it, one row per column and figure (mean, std, n, best, ranked). The best
    INT8 model of each column is in bold, and named in the row `best INT8`; a figure not
    ranked (`unranked`) carries PICKED_ON_SCORED_SPLIT."""
    long = []
    for label, members in groups.items():
        per_run = [run_values(run) for run in members]
        metric = headline_metric(members[0].task, members[0].params)
        for figure in [*ROWS, *DROP_ROWS]:
            present = [values[figure] for values in per_run if not np.isnan(values[figure])]
            mean, std = mean_std(present or [np.nan])
            long.append({"column": label, "task": members[0].task, "figure": figure,
                         "metric": metric, "mean": mean, "std": std,
                         "ci95": interval_half_width(std, len(present)), "n": len(members),
                         "seeds": " ".join(str(run.seed) for run in members),
                         "ranked": not unranked(figure, members)})
    long = pd.DataFrame(long)
    best = best_rows(long)
    long["best"] = [best.get(column) == figure
                    for column, figure in zip(long["column"], long["figure"])]
    table = {}
    for figure, title in {**ROWS, **DROP_ROWS}.items():
        rows = long[(long["figure"] == figure) & long["mean"].notna()]
        if rows.empty:
            continue
        table[title] = {**{r.column: marked_cell(r) for r in rows.itertuples()},
                        "average": f"{rows['mean'].mean():.2f}"}
    table["best INT8"] = {**{column: METHODS[model_of(figure)].label
                             for column, figure in best.items()}, "average": ""}
    columns = list(groups) + ["average"]
    table = pd.DataFrame(table).T[columns].fillna("-")  # a method no run of that column had
    table.columns = [f"{c} ({headline_metric(groups[c][0].task, groups[c][0].params)})"
                     if c in groups else c for c in columns]
    runs_row = {col: f"{len(members)} (seed {', '.join(str(r.seed) for r in members)})"
                for col, members in zip(table.columns, groups.values())}
    table.loc["runs"] = {**runs_row, "average": ""}
    return table, long


def published_drops(references: pd.DataFrame, groups: dict, long: pd.DataFrame) -> pd.DataFrame:
    """Relative drops (% of FP32) that published work reports for the same tasks and
    headline metrics, one row per source, model and method, under our own (mean) drop."""
    tasks = {members[0].task: label for label, members in groups.items()}
    rows = {}
    for method in METHODS:
        mine = long[(long["figure"] == f"drop_rel:{method}") & long["column"].isin(tasks)
                    & long["mean"].notna()]
        if not mine.empty:
            rows[ours(method)] = {r.task: round(r.mean, 2) for r in mine.itertuples()
                                  if r.column == r.task}
    own = list(rows)
    for ref in references.itertuples():
        if ref.task in tasks and ref.metric == headline_metric(ref.task, {}):
            name = f"{ref.source}: {ref.model}, {ref.method}"
            rows.setdefault(name, {})[ref.task] = round(relative_drop(ref.fp32, ref.int8), 2)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(tasks))
    published = table.drop(index=own).dropna(axis=1, how="all")  # tasks nobody published
    return table.loc[:, published.columns] if len(published) else published


def drop_intervals(long: pd.DataFrame) -> pd.DataFrame:
    """Each ONNX INT8 model's mean relative drop with its 95 % interval over seeds, per
    column with two runs or more: an interval that holds 0 is a drop the seeds cannot tell
    from none."""
    rows = long[long["figure"].isin([f"drop_rel:{m}" for m in METHODS]) & long["ci95"].notna()]
    cells = {}
    for r in rows.itertuples():
        cells.setdefault(row_label(onnx_row(r.figure.split(":")[1])), {})[r.column] = (
            f"{r.mean:.2f} [{r.mean - r.ci95:.2f}, {r.mean + r.ci95:.2f}]")
    return pd.DataFrame.from_dict(cells, orient="index").fillna("–")


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def methods_table(groups: dict) -> pd.DataFrame:
    """One row per task configuration and ONNX model: what each method scores, weighs, takes
    per batch and cost to make, mean over seeds. A row that another configuration of the same
    task already showed unchanged (FP32 and the PTQ methods, which a QAT param does not rerun)
    is shown once, so runs that differ in QAT settings add only their QAT row."""
    rows, seen = [], set()
    for label, members in groups.items():
        task = members[0].task
        for name, (method, key) in METHOD_TABLE.items():
            present = [run for run in members if name in run.metrics]
            if not present:
                continue
            if key:
                method = METHODS[key].label_for(present[0].params)
            row = {
                "task": task, "column": label, "method": method,
                "main": _mean(run.metrics[name]["main"] for run in present),
                "drop_rel_%": _mean(relative_drop(run.metrics[FP32]["main"],
                                                  run.metrics[name]["main"]) for run in present),
                "size_mb": _mean(run.metrics[name].get("size_mb") for run in present),
                "latency_ms": _mean(run.timings.get(name, {}).get("latency_ms")
                                    for run in present),
                "cost_s": _mean(run.timings.get("quantization_wall_s", {}).get(key)
                                for run in present) if key else float("nan"),
                "runs": len(present)}
            identity = (task, method, round(row["main"], 4), row["size_mb"],
                        None if np.isnan(row["cost_s"]) else row["cost_s"])  # nan != nan
            if identity not in seen:
                seen.add(identity)
                rows.append(row)
    return pd.DataFrame(rows)
