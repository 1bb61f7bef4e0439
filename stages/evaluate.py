"""Stage evaluate: score FP32 and each NNCF INT8 model (fake-quantized) in PyTorch, on one device.

Evaluation always runs on a single device, whatever training used, so the figures are
comparable. ptq_dynamic exists only as ONNX, so the export stage scores it.
Output: reports/eval/pytorch.json (scores and sizes); latency goes to
reports/timings/evaluate.json.
"""

from transformers import AutoTokenizer

from stages.lib.config.params import load_params
from stages.lib.core.files import size_mb, write_json
from stages.lib.core.paths import DATA_DIR, EVAL_DIR, FP32_DIR, INT8_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task
from stages.lib.inference.engines import pytorch_engine, score_engine
from stages.lib.inference.timing import thread_count
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.evaluation import evaluation_inputs
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.methods import torch_methods
from stages.lib.quantization.nncf_backend import WEIGHTS, load_quantized

RESULTS = EVAL_DIR / "pytorch.json"


def torch_models(methods: list, task) -> dict:
    """name -> (loader, weights file): FP32 and the NNCF methods asked for, in params order."""
    models = {"fp32": (lambda: load_task_model(FP32_DIR, task), FP32_DIR / "model.safetensors")}
    for method in torch_methods(methods):
        folder = INT8_DIR / method
        models[method] = (lambda folder=folder: load_quantized(folder, task), folder / WEIGHTS)
    return models


def main():
    params = load_params()
    task, device = load_task(params), pick_device(params["device"])
    latency = params["latency"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    settings, splits, timing_batch = evaluation_inputs(params, task, tokenizer, DATA_DIR)

    results, timings = {}, {}
    for name, (load, weights) in torch_models(params["methods"], task).items():
        engine = pytorch_engine(name, load(), task.output_names,
                                thread_count(latency["threads"]), device)
        results[name] = {**score_engine(engine, splits, task, settings),
                         "size_mb": size_mb(weights)}
        timings[name] = engine.time(timing_batch, latency["warmup"], latency["repeats"])
        print(f"{name}: {results[name]} {timings[name]}")
    write_json(RESULTS, results)
    return {"latency": timings}  # reports/timings/evaluate.json: never in a cached output


if __name__ == "__main__":
    run_stage(main, timed=True)
