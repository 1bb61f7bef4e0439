"""Stage report: the results table, FP32 next to every INT8 method, PyTorch next to ONNX Runtime.

Outputs: reports/metrics.json (accuracy and size, for `dvc metrics diff`),
reports/latency.json (timings and each method's wall time, kept apart because they vary
from run to run),
reports/results.{md,csv} (with every published reference for the task, and the
`report.max_drop` verdict), and the pictures reports/{comparison,curves,references}.png.
"""

import pandas as pd

from stages.lib.config.params import load_params
from stages.lib.config.recipes import as_param, changes, load_recipe
from stages.lib.core.errors import PipelineError
from stages.lib.core.files import read_json, write_json, write_text
from stages.lib.core.paths import BENCHMARK_DIR, DATA_DIR, EVAL_DIR, INT8_DIR, REPORTS
from stages.lib.core.runner import run_stage, stage_facts
from stages.lib.data.prepared import check_prepared_task, load_task
from stages.lib.quantization.records import how_it_was_made
from stages.lib.reporting.benchmark_report import training_step_target
from stages.lib.reporting.charts import plot_comparison, plot_curves, plot_references
from stages.lib.reporting.references import compare, load_references, model_notes
from stages.lib.reporting.results import (
    build_table,
    criterion_text,
    mark_criterion,
    metric_columns,
    split_timings,
    to_markdown,
)
from stages.lib.tasks.own import OWN

# Scores and sizes come from the evaluating stages' outputs, latency from their timing files.
EVALUATIONS = [(EVAL_DIR / "pytorch.json", "evaluate"), (EVAL_DIR / "onnx.json", "export")]
BENCHMARK = BENCHMARK_DIR / "timings.json"


def table_notes(params: dict, task, timings: dict) -> list:
    rows = read_json(DATA_DIR / "task.json")["rows"]
    return task.kind.scoring_notes(task, params["qa"]) + [
        f"model `{params['model']['name']}`"
        + (" (a fine-tuned checkpoint, scored as published)" if params["model"]["finetuned"]
           else "") + f", data `{params['data']['source']}` "
        f"({', '.join(f'{split} {n}' for split, n in rows.items())}), seed {params['seed']}",
        f"headline `main` = `{task.main_metric}` on `{task.eval_splits[0]}`; drop and speedup "
        "are against FP32 PyTorch",
        "INT8 PyTorch simulates INT8 with NNCF fake-quantize ops, so it is slower than FP32; "
        "the speed comes from the exported model",
        f"cost: wall time to make the INT8 model from the FP32 one (calibration, training) on "
        f"{timings['fp32']['device']}; FP32 fine-tuning is shared by all methods",
        criterion_text(params["report"]["max_drop"], params["report"]["drop_kind"]),
        f"latency: batch {params['latency']['batch_size']}, {timings['fp32']['threads']} threads, "
        f"{timings['fp32']['device']}, median of {params['latency']['repeats']} runs",
    ]


def recipe_text(recipe: dict | None, params: dict) -> str:
    """Which recipe this run follows, and every setting it changed from it."""
    if recipe is None:
        return ""
    changed = changes(recipe, params)
    how = ("applied as written" if not changed else "with these changes: " + "; ".join(
        f"`{key}={as_param(ours)}` (recipe: {as_param(theirs)})" for key, theirs, ours in changed))
    return (f"Recipe `{recipe['name']}` ({recipe.get('title', '')}), {how}; the rows it "
            "reproduces come first (recipe: yes).\n\n")


def references_section(comparison, task, our_model: str, recipe_line: str = "") -> str:
    if comparison.empty:
        none = ("None published for your data." if task.name == OWN
                else f"None for `{task.name}` in data/references.csv.")
        return f"\n## Published references\n\n{recipe_line}{none}\n"
    notes = model_notes(comparison, our_model) + [
        "ours = FP32 PyTorch vs INT8 ONNX Runtime; drop = FP32 - INT8 in points, rel = % of FP32",
        "published figures are on the official dev sets; see the data note above for ours"]
    table = comparison.rename(columns=lambda c: c.replace("_pct", "_%"))
    return "\n## Published references\n\n" + recipe_line \
        + table.to_markdown(index=False, floatfmt=".2f") \
        + "\n\n" + "".join(f"- {note}\n" for note in notes)


def speed_section(benchmark: dict, training: dict, records: dict) -> str:
    """The benchmark's verdict (is the fastest INT8 engine faster than the fastest float one?)
    and QAT's training step against FP32's."""
    machine, targets = benchmark["machine"], list(benchmark["targets"])
    if "qat" in records and "training" in records["qat"] and training:
        targets.append(training_step_target(training, records["qat"]["training"]))
    table = pd.DataFrame(targets)
    return ("\n## Speed on every runtime\n\n"
            + (table.to_markdown(index=False) if not table.empty else "No targets measured.")
            + f"\n\n- {machine['cpu']}, {machine['cores']} cores, ISA "
            f"{', '.join(machine['isa']) or '-'}; every engine, setting and profile in "
            "reports/benchmark/benchmark.md\n")


def enforce_criterion(table, settings: dict) -> None:
    failed = table.loc[table["criterion"] == "fail", "model"].tolist()
    if failed and settings["fail_on_drop"]:
        raise PipelineError(
            f"{', '.join(failed)} miss the accuracy criterion: "
            f"{criterion_text(settings['max_drop'], settings['drop_kind'])}. Nothing was "
            "written. Train longer (qat.epochs, qat.lr), relax report.max_drop, or set "
            "report.fail_on_drop: false to keep the results anyway")


def main():
    params = load_params()
    task = load_task(params)
    check_prepared_task(DATA_DIR, task)
    evaluations = {name: {**values, **latency}
                   for path, stage in EVALUATIONS for name, values in read_json(path).items()
                   for latency in [stage_facts(stage)["latency"][name]]}
    metrics, timings = split_timings(evaluations)
    records = {method: how_it_was_made(method) for method in params["methods"]}
    timings["quantization_wall_s"] = {method: r["quantize_s"] for method, r in records.items()}
    criterion = params["report"]
    table = mark_criterion(build_table(evaluations, metric_columns(metrics["fp32"]), records),
                           criterion["max_drop"], criterion["drop_kind"])
    recipe = load_recipe(params["recipe"]) if params.get("recipe") else None
    comparison = compare(load_references(), task.name, params["model"]["name"], metrics, recipe)
    print(table.to_string(index=False))
    enforce_criterion(table, criterion)

    write_json(REPORTS / "metrics.json", metrics)
    write_json(REPORTS / "latency.json", timings)
    write_text(REPORTS / "results.csv", table.to_csv(index=False))
    write_text(REPORTS / "results.md", to_markdown(
        table, f"{task.name}: FP32 vs INT8 ({', '.join(r['label'] for r in records.values())})",
        table_notes(params, task, timings))
        + references_section(comparison, task, params["model"]["name"],
                             recipe_text(recipe, params))
        + speed_section(read_json(BENCHMARK), stage_facts("finetune").get("training"),
                        records))
    plot_comparison(table, task.main_metric, REPORTS / "comparison.png")
    curves = [(REPORTS / "curves", "finetune", "FP32 fine-tune")]
    if "qat" in records:
        curves.append((INT8_DIR / "qat", "qat", records["qat"]["label"]))
    plot_curves(curves, task.main_metric, REPORTS / "curves.png")
    plot_references(comparison, task.name, REPORTS / "references.png")
    if not comparison.empty:
        print(comparison.to_string(index=False))


if __name__ == "__main__":
    run_stage(main, timed=True)
