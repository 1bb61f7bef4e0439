"""Stage evaluate: score FP32 and each NNCF INT8 model (fake-quantized) in PyTorch, on one device.

Evaluation always runs on a single device, whatever training used, so the figures are
comparable. ptq_dynamic exists only as ONNX, so the export stage scores it.
Output: reports/eval/pytorch.json.
"""
from pathlib import Path

from transformers import AutoTokenizer

from stages.lib.benchmark import time_torch
from stages.lib.data import check_prepared_task
from stages.lib.errors import run_stage
from stages.lib.evaluation import evaluate_torch, evaluation_inputs
from stages.lib.modeling import load_task_model, pick_device
from stages.lib.outputs import write_json
from stages.lib.params import load_params
from stages.lib.quantization import NNCF_METHODS, WEIGHTS, load_quantized
from stages.lib.sizes import size_mb
from stages.lib.tasks import get_task

DATA_DIR, FP32_DIR, INT8_DIR = Path("data/prepared"), Path("models/fp32"), Path("models/int8")
RESULTS = Path("reports/eval/pytorch.json")


def torch_models(methods: list, task) -> dict:
    """name -> (loader, weights file): FP32 and the NNCF methods asked for, in params order."""
    models = {"fp32": (lambda: load_task_model(FP32_DIR, task), FP32_DIR / "model.safetensors")}
    for method in (m for m in methods if m in NNCF_METHODS):
        folder = INT8_DIR / method
        models[method] = (lambda folder=folder: load_quantized(folder, task), folder / WEIGHTS)
    return models


def main():
    params = load_params()
    task, device = get_task(params["task"]), pick_device(params["device"])
    latency = params["latency"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    settings, splits, timing_batch = evaluation_inputs(params, task, tokenizer, DATA_DIR)

    results = {}
    for name, (load, weights) in torch_models(params["methods"], task).items():
        model = load().to(device)
        results[name] = {**evaluate_torch(model, splits, task, settings, device, desc=name),
                         "size_mb": size_mb(weights),
                         **time_torch(model, timing_batch, device, latency)}
        print(f"{name}: {results[name]}")
    write_json(RESULTS, results)


if __name__ == "__main__":
    run_stage(main, timed=True)
