"""Stage package: a self-contained folder per exported model, ready to hand over.

models/export/{fp32,<method>}/ each hold model.onnx, the tokenizer, config.json (with the label
names), model_info.json (task, labels, input limits, for `python -m stages.tools.predict`) and a
model card (README.md) with the data, params, metrics, size, latency, the model on every
benchmarked runtime, and how to load it.
"""
import shutil

import pandas as pd
from transformers import AutoConfig, AutoTokenizer

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir, read_json, write_json, write_text
from stages.lib.core.paths import DATA_DIR, EXPORT_DIR, FP32_DIR, ONNX_DIR, REPORTS
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task
from stages.lib.modeling.features import input_settings
from stages.lib.quantization.methods import FP32
from stages.lib.quantization.records import how_it_was_made
from stages.lib.reporting.model_card import model_card
from stages.lib.reporting.references import compare, load_references
from stages.lib.reporting.serving import INFO_FILE, MODEL_FILE
from stages.lib.tasks.own import OWN, definition


def model_info(task, params: dict, name: str) -> dict:
    settings = input_settings(params, task)
    return {"task": task.name, "kind": task.kind.name, "model": name,
            "precision": "FP32" if name == "fp32" else "INT8",
            "text_fields": list(task.text_fields), "labels": task.label_names and
            list(task.label_names), "outputs": list(task.output_names),
            "max_length": settings.max_length,
            "qa": settings.qa.__dict__ if settings.qa else None,
            **({"own": definition(task)} if task.name == OWN else {})}


def main():
    params = load_params()
    task = load_task(params)
    check_prepared_task(DATA_DIR, task)
    metrics, latency = read_json(REPORTS / "metrics.json"), read_json(REPORTS / "latency.json")
    data_info = read_json(DATA_DIR / "task.json")
    table = pd.read_csv(REPORTS / "results.csv")
    criterion = dict(zip(table["model"], table["criterion"]))
    references = compare(load_references(), task.name, params["model"]["name"], metrics)
    benchmark = read_json(REPORTS / "benchmark" / "timings.json")
    accuracy = read_json(REPORTS / "benchmark" / "accuracy.json")
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    config = AutoConfig.from_pretrained(FP32_DIR)

    with atomic_dir(EXPORT_DIR) as scratch:
        for name in ["fp32", *params["methods"]]:
            folder = scratch / name
            folder.mkdir()
            shutil.copy2(ONNX_DIR / f"{name}.onnx", folder / MODEL_FILE)
            tokenizer.save_pretrained(folder)
            config.save_pretrained(folder)
            write_json(folder / INFO_FILE, model_info(task, params, name))
            write_text(folder / "README.md", model_card(
                name, str(EXPORT_DIR / name), params, task, data_info, metrics, latency,
                criterion, references, how_it_was_made(name) if name != FP32 else None,
                benchmark, accuracy))
    print(f"wrote {', '.join(str(EXPORT_DIR / n) for n in ['fp32', *params['methods']])}")


if __name__ == "__main__":
    run_stage(main, timed=True)
