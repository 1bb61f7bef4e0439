"""Stage quantize@ptq_static: NNCF post-training quantization, calibration only.

The same scheme and calibration samples as QAT, without the training: the row that shows
what QAT's training buys.
Output: models/int8/ptq_static/ (the NNCF model as QAT saves it, method.json).
"""
import time

from transformers import AutoTokenizer, set_seed

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import DATA_DIR, FP32_DIR, method_dir
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.features import input_settings, train_items
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.nncf_backend import quantize, save_quantized
from stages.lib.quantization.records import write_record
from stages.lib.quantization.scheme import Scheme

OUT_DIR = method_dir("ptq_static")


def main():
    params = load_params()
    task, device = load_task(params), pick_device(params["device"])
    scheme = Scheme.from_params(params, task)
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
        write_record(scratch, "ptq_static", scheme.describe("ptq_static"), params)
    print(f"PTQ static {task.name}: calibrated on {scheme.subset_size} samples in {wall_s:.0f} s")
    return {"quantize_s": round(wall_s, 2), "device": device.type}


if __name__ == "__main__":
    run_stage(main, timed=True)
