"""Stage quantize@ptq_dynamic: ONNX Runtime dynamic quantization of the FP32 model.

Intel Neural Compressor's advice for Hugging Face models: INT8 weights, activations quantized
per batch at run time, no calibration and no training. The FP32 model is exported to ONNX here
as the export stage does (fused with export.fuse, so that Attention becomes QAttention) and
its weights quantized; only the quantization is timed.
Output: models/int8/ptq_dynamic/ (model.onnx, method.json).
"""
import tempfile
import time
from pathlib import Path

from transformers import AutoTokenizer

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import DATA_DIR, FP32_DIR, method_dir
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.inference.onnx_export import export_fp32, trace_example
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.ort_backend import ONNX_MODEL, quantize_dynamic
from stages.lib.quantization.records import write_record
from stages.lib.quantization.scheme import Scheme

OUT_DIR = method_dir("ptq_dynamic")


def main():
    params = load_params()
    task = load_task(params)
    scheme = Scheme.from_params(params, task)
    weight_type = params["ptq_dynamic"]["weight_type"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task).eval()
    kept = scheme.kept_modules(model)
    example = trace_example(tokenizer, read_split(DATA_DIR, task.eval_splits[0]))

    with atomic_dir(OUT_DIR) as scratch, tempfile.TemporaryDirectory() as tmp:
        fp32_onnx = Path(tmp) / "fp32.onnx"
        fused = export_fp32(model, example, fp32_onnx, params["export"]["opset"],
                            task.output_names, params["export"]["fuse"])
        start = time.perf_counter()
        quantize_dynamic(fp32_onnx, scratch / ONNX_MODEL, scheme, kept, weight_type)
        wall_s = time.perf_counter() - start
        write_record(scratch, "ptq_dynamic",
                     scheme.describe("ptq_dynamic", weight_type, fused=bool(fused)), params,
                     fused_ops=fused)
    print(f"PTQ dynamic {task.name}: quantized in {wall_s:.1f} s")
    return {"quantize_s": round(wall_s, 2), "device": "cpu"}


if __name__ == "__main__":
    run_stage(main, timed=True)
