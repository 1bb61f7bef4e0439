"""Stage quantize@ptq_accuracy: static PTQ with accuracy control (NNCF, on the ONNX model).

Intel Neural Compressor's accuracy-driven tuning, done by NNCF's
`quantize_with_accuracy_control`: the FP32 model is exported to ONNX, calibrated on the same
samples as ptq_static, scored on the selection rows with the task's own metric (a question
from all its context windows), and the layers whose quantization moves the outputs most are put
back in FP32 one at a time until `main` drops by at most report.max_drop (report.drop_kind).
The selection rows are the first evaluation split (`select_on: validation`, as Intel Neural
Compressor tunes), the training rows the download stage set aside (`select_on: holdout`, with
`data.holdout_rows`: no model was trained on them), or the last `select_rows` training rows
(`select_on: train`), so that the validation score the evaluate stage reports is not the one
the layers were picked on. The held-out test split is never used. Output:
models/int8/ptq_accuracy/ (model.onnx, method.json naming the layers kept in FP32).
"""
import tempfile
import time
from pathlib import Path

import onnx
import pandas as pd
from transformers import AutoTokenizer, set_seed

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import DATA_DIR, FP32_DIR, method_dir
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import HOLDOUT, check_prepared_task, load_task, read_split
from stages.lib.inference.onnx_export import export, trace_example
from stages.lib.modeling.features import eval_split, input_settings, train_items
from stages.lib.modeling.inputs import make_loader
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.accuracy_control import (
    Criterion,
    RowScoring,
    graph_inputs,
    onnx_feeds,
    quantize_with_accuracy_control,
    row_feeds,
)
from stages.lib.quantization.ort_backend import ONNX_MODEL, nodes_of
from stages.lib.quantization.records import write_record
from stages.lib.quantization.scheme import Scheme

OUT_DIR = method_dir("ptq_accuracy")


def selection_rows(task, section: dict) -> pd.DataFrame:
    """The rows the layers are ranked and the drop is checked on."""
    if section["select_on"] == "validation":
        return read_split(DATA_DIR, task.eval_splits[0])
    if section["select_on"] == "holdout":
        return read_split(DATA_DIR, HOLDOUT)
    return read_split(DATA_DIR, "train").tail(section["select_rows"]).reset_index(drop=True)


def selection_feeds(tokenizer, task, settings, input_names: list, section: dict) -> tuple:
    """(the selection rows as a split, one ONNX feed per row: all of a question's context
    windows in one feed, as its score needs them)."""
    split = eval_split(tokenizer, selection_rows(task, section), task, settings, batch_size=1)
    return split, row_feeds(split.loader, task.kind.row_groups(split), input_names)


def calibration_feeds(tokenizer, task, settings, input_names: list, count: int) -> list:
    """The first `count` training samples, as ptq_static and QAT calibrate on them."""
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task, settings)[:count]
    unlabeled = [{k: v for k, v in item.items() if k in input_names} for item in items]
    return onnx_feeds(make_loader(unlabeled, tokenizer, batch_size=1), input_names)


def row_scoring(task, split, settings) -> RowScoring:
    """The task's headline metric over some rows of the split, and each row's own score."""
    kind = task.kind
    return RowScoring(
        metric=lambda outputs, indices: kind.score(outputs, kind.rows(split, indices), task,
                                                   settings)[task.main_metric],
        per_row=lambda outputs, indices: kind.example_scores(outputs, kind.rows(split, indices),
                                                             task, settings))


def main():
    params = load_params()
    task, section = load_task(params), params["ptq_accuracy"]
    scheme = Scheme.from_params(params, task)
    criterion = Criterion(params["report"]["max_drop"], params["report"]["drop_kind"])
    check_prepared_task(DATA_DIR, task)
    set_seed(params["seed"])
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task).eval()
    kept_modules = scheme.kept_modules(model)
    settings = input_settings(params, task)
    example = trace_example(tokenizer, read_split(DATA_DIR, task.eval_splits[0]))

    with atomic_dir(OUT_DIR) as scratch, tempfile.TemporaryDirectory() as tmp:
        fp32_onnx = Path(tmp) / "fp32.onnx"
        export(model, example, fp32_onnx, params["export"]["opset"], task.output_names)
        graph = onnx.load(str(fp32_onnx), load_external_data=False)
        names = graph_inputs(graph)
        split, selection = selection_feeds(tokenizer, task, settings, names, section)
        start = time.perf_counter()
        outcome = quantize_with_accuracy_control(
            fp32_onnx, scratch / ONNX_MODEL,
            calibration_feeds(tokenizer, task, settings, names, scheme.subset_size), selection,
            row_scoring(task, split, settings),
            list(task.output_names), scheme, nodes_of(graph.graph, kept_modules), criterion,
            section["bias_correction"], section["ranking_subset_size"],
            section["max_iterations"])
        wall_s = time.perf_counter() - start
        selected_on = f"{section['select_on']} ({len(split.frame)} rows)"
        write_record(scratch, "ptq_accuracy", describe(scheme, criterion, outcome, selected_on),
                     params, kept_fp32=outcome.kept_fp32, criterion_met=outcome.met,
                     selected_on=selected_on)
    print(f"PTQ accuracy-aware {task.name}, on {selected_on}: FP32 {outcome.fp32_main:.2f}, INT8 "
          f"{outcome.int8_main:.2f} with {len(outcome.kept_fp32)} layers kept in FP32 "
          f"({', '.join(outcome.kept_fp32) or 'none'}); criterion "
          f"{'met' if outcome.met else 'NOT met'}; {wall_s:.0f} s")
    return {"quantize_s": round(wall_s, 2), "device": "cpu"}


def describe(scheme: Scheme, criterion: Criterion, outcome, selected_on: str) -> str:
    unit = "%" if criterion.kind == "relative" else " points"
    kept = ", ".join(outcome.kept_fp32) or "none"
    return (f"{scheme.describe('ptq_accuracy')}, max drop {criterion.max_drop:g}{unit}: "
            f"{len(outcome.kept_fp32)} of {len(outcome.kept_fp32) + outcome.quantized} layers "
            f"kept FP32 ({kept}), selected on {selected_on}"
            + ("" if outcome.met else ", criterion not met"))


if __name__ == "__main__":
    run_stage(main, timed=True)
