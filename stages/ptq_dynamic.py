"""Stage quantize@ptq_dynamic: ONNX Runtime dynamic quantization of the FP32 model.

Intel Neural Compressor's advice for Hugging Face models: INT8 weights, activations quantized
per batch at run time, no calibration and no training. The FP32 model is exported to ONNX here
(as the export stage does) and its weights quantized; only the quantization is timed.
Output: models/int8/ptq_dynamic/ (model.onnx, method.json).
"""
import tempfile
import time
from pathlib import Path

from transformers import AutoTokenizer

from stages.lib import onnx_io
from stages.lib.data import check_prepared_task, read_split
from stages.lib.errors import run_stage
from stages.lib.modeling import load_task_model
from stages.lib.outputs import atomic_dir
from stages.lib.params import load_params
from stages.lib.quantization import Scheme, ignored_modules, quantize_dynamic, write_record
from stages.lib.tasks import get_task

DATA_DIR, FP32_DIR = Path("data/prepared"), Path("models/fp32")
OUT_DIR, MODEL_FILE = Path("models/int8/ptq_dynamic"), "model.onnx"


def main():
    params = load_params()
    task, scheme = get_task(params["task"]), Scheme.from_params(params)
    weight_type = params["ptq_dynamic"]["weight_type"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task).eval()
    kept = ignored_modules(model, scheme.ignored_scope)
    example = onnx_io.trace_example(tokenizer, read_split(DATA_DIR, task.eval_splits[0]))

    with atomic_dir(OUT_DIR) as scratch, tempfile.TemporaryDirectory() as tmp:
        fp32_onnx = Path(tmp) / "fp32.onnx"
        onnx_io.export(model, example, fp32_onnx, params["export"]["opset"], task.output_names)
        start = time.perf_counter()
        quantize_dynamic(fp32_onnx, scratch / MODEL_FILE, scheme, kept, weight_type)
        wall_s = time.perf_counter() - start
        write_record(scratch, {"method": "ptq_dynamic", "label": "PTQ dynamic",
                               "scheme": scheme.describe("ptq_dynamic", weight_type),
                               "wall_s": round(wall_s, 2), "device": "cpu"})
    print(f"PTQ dynamic {task.name}: quantized in {wall_s:.1f} s")


if __name__ == "__main__":
    run_stage(main, timed=True)
