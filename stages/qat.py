"""Stage 3: quantization-aware training with NNCF, starting from the FP32 checkpoint.

nncf.quantize calibrates INT8 fake quantizers on `qat.subset_size` training samples, then
the quantized model is fine-tuned so the weights adapt to the rounding.
Outputs: models/int8/ (weights + quantizer state + NNCF config) and the training curves.
"""
from pathlib import Path

from transformers import AutoTokenizer, set_seed

from stages.lib.data import check_prepared_task, read_split
from stages.lib.errors import run_stage
from stages.lib.evaluation import eval_splits, evaluate_torch
from stages.lib.features import input_settings, train_items
from stages.lib.modeling import disable_dropout, load_task_model, pick_device
from stages.lib.outputs import atomic_dir
from stages.lib.params import load_params
from stages.lib.quantization import quantize, save_quantized
from stages.lib.tasks import get_task
from stages.lib.training import TrainSettings, train

DATA_DIR, FP32_DIR = Path("data/prepared"), Path("models/fp32")
INT8_DIR, CURVES_DIR = Path("models/int8"), Path("reports/curves")


def main():
    params = load_params()
    task, device, qat = get_task(params["task"]), pick_device(params["device"]), params["qat"]
    check_prepared_task(DATA_DIR, task)
    set_seed(params["seed"])
    settings = input_settings(params, task)

    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task)
    disable_dropout(model)
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task, settings)
    splits = eval_splits(DATA_DIR, task, tokenizer, settings, params["evaluate"]["batch_size"])

    qmodel = quantize(model, items[:qat["subset_size"]], tokenizer, qat["preset"], device)
    curves = train(qmodel, items, tokenizer, TrainSettings.from_params(qat, params["seed"]),
                   device, evaluate_fn=lambda m: evaluate_torch(m, splits, task, settings, device),
                   desc=f"QAT on {device.type}", eval_at_start=True)

    with atomic_dir(INT8_DIR) as scratch:
        save_quantized(qmodel.cpu(), scratch, FP32_DIR)
    curves.write(CURVES_DIR, "qat")
    print(f"INT8 {task.name}: {curves.eval[-1]}")


if __name__ == "__main__":
    run_stage(main)
