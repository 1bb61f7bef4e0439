"""Stage quantize@ptq_static: NNCF post-training quantization, calibration only.

The same scheme and calibration samples as QAT, without the training: the row that shows
what QAT's training buys.
Output: models/int8/ptq_static/ (the NNCF model as QAT saves it, method.json).
"""
import time
from pathlib import Path

from transformers import AutoTokenizer, set_seed

from stages.lib.data import check_prepared_task, read_split
from stages.lib.errors import run_stage
from stages.lib.features import input_settings, train_items
from stages.lib.modeling import load_task_model, pick_device
from stages.lib.outputs import atomic_dir
from stages.lib.params import load_params
from stages.lib.quantization import Scheme, quantize, save_quantized, write_record
from stages.lib.tasks import get_task

DATA_DIR, FP32_DIR = Path("data/prepared"), Path("models/fp32")
OUT_DIR = Path("models/int8/ptq_static")


def main():
    params = load_params()
    task, device = get_task(params["task"]), pick_device(params["device"])
    scheme = Scheme.from_params(params)
    check_prepared_task(DATA_DIR, task)
    set_seed(params["seed"])

    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task)
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task,
                        input_settings(params, task))

    start = time.perf_counter()
    qmodel = quantize(model, items, tokenizer, scheme, device,
                      fast_bias_correction=params["ptq_static"]["fast_bias_correction"])
    wall_s = time.perf_counter() - start

    with atomic_dir(OUT_DIR) as scratch:
        save_quantized(qmodel.cpu(), scratch, FP32_DIR)
        write_record(scratch, {"method": "ptq_static", "label": "PTQ static",
                               "scheme": scheme.describe("ptq_static"),
                               "wall_s": round(wall_s, 2), "device": device.type})
    print(f"PTQ static {task.name}: calibrated on {scheme.subset_size} samples in {wall_s:.0f} s")


if __name__ == "__main__":
    run_stage(main, timed=True)
