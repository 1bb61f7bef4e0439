"""Stage quantize@qat: quantization-aware training with NNCF, from the FP32 checkpoint.

nncf.quantize calibrates INT8 fake quantizers (the scheme in `quantization`), then the
quantized model is fine-tuned so the weights adapt to the rounding; with `qat.distill.enabled`
the FP32 model teaches it (distillation.py). With `train.num_processes` > 1, rank 0 calibrates
and the other DDP processes take its quantizers (quantization.quantize_once).
Output: models/int8/qat/ (weights + quantizer state + NNCF config, method.json with the scheme
and wall time, and the training curves).
"""
import time
from pathlib import Path

from transformers import AutoTokenizer, set_seed

from stages.lib.checkpoints import Checkpointer
from stages.lib.data import check_prepared_task, read_split
from stages.lib.distillation import DistillSettings, distilling_loss_fn
from stages.lib.distributed import is_main, make_accelerator, relaunch_if_asked
from stages.lib.errors import run_stage
from stages.lib.evaluation import eval_splits, evaluate_torch
from stages.lib.features import input_settings, train_items
from stages.lib.modeling import disable_dropout, load_task_model, pick_device
from stages.lib.outputs import atomic_dir
from stages.lib.params import load_params, training_identity
from stages.lib.quantization import Scheme, quantize_once, save_quantized, write_record
from stages.lib.tasks import get_task
from stages.lib.training import TrainSettings, task_loss, train

DATA_DIR, FP32_DIR, OUT_DIR = Path("data/prepared"), Path("models/fp32"), Path("models/int8/qat")


def main():
    params = load_params()
    relaunch_if_asked(params["train"], "stages.qat")
    task, device, qat = get_task(params["task"]), pick_device(params["device"]), params["qat"]
    scheme, distill = Scheme.from_params(params), DistillSettings.from_params(qat["distill"])
    check_prepared_task(DATA_DIR, task)
    accelerator = make_accelerator(device, params["train"]["mixed_precision"])
    set_seed(params["seed"])
    settings = input_settings(params, task)

    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    model = load_task_model(FP32_DIR, task)
    disable_dropout(model)
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task, settings)
    splits = eval_splits(DATA_DIR, task, tokenizer, settings, params["evaluate"]["batch_size"])
    loss_fn = task_loss
    if distill:
        teacher = load_task_model(FP32_DIR, task).to(device)
        loss_fn = distilling_loss_fn(teacher, task, distill)

    checkpointer = Checkpointer(
        "qat", params["train"]["checkpoint_every"], training_identity(params, "qat"),
        files=[DATA_DIR / "train.jsonl", FP32_DIR / "model.safetensors"])

    start = time.perf_counter()
    qmodel = quantize_once(model, items, tokenizer, scheme, device)
    curves = train(qmodel, items, tokenizer, TrainSettings.from_params(params, "qat"),
                   accelerator,
                   evaluate_fn=lambda m: evaluate_torch(m, splits, task, settings, device),
                   desc=f"QAT on {device.type}", eval_at_start=True, loss_fn=loss_fn,
                   checkpointer=checkpointer)
    wall_s = time.perf_counter() - start - curves.eval_seconds  # calibration and training
    if not is_main():
        return None

    with atomic_dir(OUT_DIR) as scratch:
        save_quantized(qmodel.cpu(), scratch, FP32_DIR)
        curves.write(scratch, "qat")
        write_record(scratch, {
            "method": "qat", "label": "QAT + distillation" if distill else "QAT",
            "scheme": scheme.describe("qat") + (
                f", distill a={distill.alpha} T={distill.temperature}" if distill else ""),
            "wall_s": round(wall_s, 2), "device": device.type,
            "eval_s": round(curves.eval_seconds, 1), "training": curves.throughput()})
    checkpointer.clear()
    print(f"QAT {task.name}: {curves.eval[-1]} in {wall_s:.0f} s; training {curves.throughput()}")
    return {"training": curves.throughput()}


if __name__ == "__main__":
    run_stage(main, timed=True)
