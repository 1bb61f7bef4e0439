"""Stage export: every model to ONNX, checked and timed in ONNX Runtime.

NNCF INT8 models (qat, ptq_static) leave as standard QuantizeLinear/DequantizeLinear pairs
(NNCF strip, NATIVE format) that ONNX Runtime runs with integer kernels, their weights stored
as INT8; ptq_dynamic is ONNX already. Each ONNX model is scored on the same split as its
PyTorch twin; a headline difference above `export.parity_tolerance` fails the stage.
Outputs: models/onnx/{fp32,<method>}.onnx and reports/eval/onnx.json.
"""
import shutil
from pathlib import Path

from transformers import AutoTokenizer

from stages.lib import onnx_io
from stages.lib.benchmark import thread_count, time_onnx
from stages.lib.data import check_prepared_task, read_split
from stages.lib.errors import PipelineError, run_stage
from stages.lib.evaluation import evaluation_inputs
from stages.lib.metrics import score
from stages.lib.modeling import load_task_model
from stages.lib.outputs import atomic_dir, read_json, write_json
from stages.lib.params import load_params
from stages.lib.quantization import load_quantized, strip_for_export
from stages.lib.sizes import size_mb
from stages.lib.tasks import get_task

DATA_DIR, FP32_DIR, INT8_DIR = Path("data/prepared"), Path("models/fp32"), Path("models/int8")
ONNX_DIR = Path("models/onnx")
TORCH_RESULTS, RESULTS = Path("reports/eval/pytorch.json"), Path("reports/eval/onnx.json")


def check_parity(name: str, onnx_main: float, torch_main: float, tolerance: float) -> None:
    gap = abs(onnx_main - torch_main)
    if gap > tolerance:
        raise PipelineError(f"ONNX {name} scores {onnx_main:.2f} but PyTorch {name} scored "
                            f"{torch_main:.2f} (gap {gap:.2f} > export.parity_tolerance "
                            f"{tolerance}); the export changed the model, nothing was written")


def write_onnx(name: str, task, example: dict, path: Path, opset: int) -> None:
    if name == "ptq_dynamic":
        shutil.copy2(INT8_DIR / name / "model.onnx", path)
        return
    model = (load_task_model(FP32_DIR, task).eval() if name == "fp32"
             else strip_for_export(load_quantized(INT8_DIR / name, task), example))
    onnx_io.export(model, example, path, opset, task.output_names)
    if name != "fp32":
        onnx_io.store_weights_as_int8(path)


def main():
    params = load_params()
    task, latency = get_task(params["task"]), params["latency"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    settings, splits, timing_batch = evaluation_inputs(params, task, tokenizer, DATA_DIR)
    example = onnx_io.trace_example(tokenizer, read_split(DATA_DIR, task.eval_splits[0]))
    torch_results = read_json(TORCH_RESULTS)

    results = {}
    with atomic_dir(ONNX_DIR) as scratch:
        for name in ["fp32", *params["methods"]]:
            path = scratch / f"{name}.onnx"
            write_onnx(name, task, example, path, params["export"]["opset"])
            sess = onnx_io.session(path, thread_count(latency["threads"]))
            outputs = {split: onnx_io.predict(sess, data.loader, desc=f"onnx {name} {split}")
                       for split, data in splits.items()}
            metrics = score(outputs, splits, task, settings)
            if name in torch_results:  # methods with a PyTorch model to compare with
                check_parity(name, metrics["main"], torch_results[name]["main"],
                             params["export"]["parity_tolerance"])
            results[f"onnx_{name}"] = {**metrics, "size_mb": size_mb(path),
                                       **time_onnx(sess, timing_batch, latency)}
            print(f"onnx_{name}: {results[f'onnx_{name}']}")
    write_json(RESULTS, results)


if __name__ == "__main__":
    run_stage(main, timed=True)
