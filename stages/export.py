"""Stage export: every model to ONNX, checked and timed in ONNX Runtime.

NNCF INT8 models (qat, ptq_static) leave as standard QuantizeLinear/DequantizeLinear pairs
(NNCF strip, NATIVE format) that ONNX Runtime runs with integer kernels, their weights stored
as INT8; ptq_dynamic and ptq_accuracy are ONNX already. In every INT8 file an INT8 embedding
table is looked up row by row before it is dequantized (the same numbers, without
dequantizing the whole table on every run). Each ONNX model is scored on the same split as its
PyTorch twin; a headline difference above `export.parity_tolerance` fails the stage.
Outputs: models/onnx/{fp32,<method>}.onnx and reports/eval/onnx.json.
"""
import shutil
from collections.abc import Callable
from pathlib import Path

from transformers import AutoTokenizer

from stages.lib.config.params import load_params
from stages.lib.core.errors import PipelineError
from stages.lib.core.files import atomic_dir, read_json, size_mb, write_json
from stages.lib.core.paths import DATA_DIR, EVAL_DIR, FP32_DIR, ONNX_DIR, method_dir
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.inference.engines import onnxruntime_engine, score_engine
from stages.lib.inference.onnx_export import (
    check_seven_bit_weights,
    export,
    export_fp32,
    look_up_int8_rows,
    store_weights_as_int8,
    trace_example,
)
from stages.lib.inference.timing import thread_count
from stages.lib.modeling.evaluation import evaluation_inputs
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.methods import FP32, get_method, onnx_row
from stages.lib.quantization.nncf_backend import load_quantized, strip_for_export
from stages.lib.quantization.ort_backend import ONNX_MODEL

TORCH_RESULTS, RESULTS = EVAL_DIR / "pytorch.json", EVAL_DIR / "onnx.json"


def check_parity(name: str, onnx_main: float, torch_main: float, tolerance: float,
                 float_qdq_main: Callable[[], float]) -> None:
    """float_qdq_main scores the ONNX model with Q/DQ run in float; asked only on a failure, it
    tells an export that changed the model from INT8 kernels that round differently."""
    gap = abs(onnx_main - torch_main)
    if gap <= tolerance:
        return
    message = (f"ONNX {name} scores {onnx_main:.2f} but PyTorch {name} scored {torch_main:.2f} "
               f"(gap {gap:.2f} > export.parity_tolerance {tolerance})")
    emulated = float_qdq_main()
    if abs(emulated - torch_main) <= tolerance:
        message += (f"; with its Q/DQ run in float it scores {emulated:.2f}: the export kept the "
                    "model, this CPU's INT8 kernels move it (without AVX512-VNNI, u8 x s8 sums "
                    "can saturate: rerun with -S quantization.overflow_fix=true, whose 7-bit "
                    "weights cannot; see docs/operations.md)")
    else:
        message += f"; with its Q/DQ run in float it scores {emulated:.2f}: the export changed it"
    raise PipelineError(message + ". Nothing was written")


def float_qdq_main(engine, splits: dict, task, settings) -> float:
    """The headline score of `engine`'s ONNX file with its Q/DQ run in float."""
    emulated = onnxruntime_engine(engine.model, engine.path, engine.threads,
                                  integer_kernels=False)
    return score_engine(emulated, splits, task, settings)["main"]


def write_onnx(name: str, task, example: dict, path: Path, export_params: dict) -> None:
    opset = export_params["opset"]
    if name == FP32:
        fused = export_fp32(load_task_model(FP32_DIR, task).eval(), example, path, opset,
                            task.output_names, export_params["fuse"])
        print(f"fp32: fused {fused}" if fused else "fp32: not fused")
    elif not get_method(name).has_torch_model:  # made as ONNX already
        shutil.copy2(method_dir(name) / ONNX_MODEL, path)
        look_up_int8_rows(path)
    else:
        model = strip_for_export(load_quantized(method_dir(name), task), example)
        export(model, example, path, opset, task.output_names)
        store_weights_as_int8(path)


def main():
    params = load_params()
    task, latency = load_task(params), params["latency"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    settings, splits, timing_batch = evaluation_inputs(params, task, tokenizer, DATA_DIR)
    example = trace_example(tokenizer, read_split(DATA_DIR, task.eval_splits[0]))
    torch_results = read_json(TORCH_RESULTS)

    results, timings = {}, {}
    with atomic_dir(ONNX_DIR) as scratch:
        for name in ["fp32", *params["methods"]]:
            path = scratch / f"{name}.onnx"
            write_onnx(name, task, example, path, params["export"])
            if name != FP32 and params["quantization"]["overflow_fix"]:
                check_seven_bit_weights(path, name)
            engine = onnxruntime_engine(name, path, thread_count(latency["threads"]))
            metrics = score_engine(engine, splits, task, settings)
            if name in torch_results:  # methods with a PyTorch model to compare with
                check_parity(name, metrics["main"], torch_results[name]["main"],
                             params["export"]["parity_tolerance"],
                             lambda: float_qdq_main(engine, splits, task, settings))
            row = onnx_row(name)
            results[row] = {**metrics, "size_mb": size_mb(path)}
            timings[row] = engine.time(timing_batch, latency["warmup"], latency["repeats"])
            print(f"{row}: {results[row]} {timings[row]}")
    write_json(RESULTS, results)
    return {"latency": timings}  # reports/timings/export.json: never in a cached output


if __name__ == "__main__":
    run_stage(main, timed=True)
