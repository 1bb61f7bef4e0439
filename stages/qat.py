"""Stage quantize@qat: quantization-aware training with NNCF, from the FP32 checkpoint.

nncf.quantize calibrates INT8 fake quantizers (the scheme in `quantization`), then the
quantized model is fine-tuned so the weights adapt to the rounding; with `qat.distill.enabled`
the FP32 model teaches it (distillation.py). With `train.num_processes` > 1, rank 0 calibrates
and the other DDP processes take its quantizers (quantization.quantize_once).
Output: models/int8/qat/ (weights + quantizer state + NNCF config, method.json with the scheme
and wall time, and the training curves).
"""
import time

from transformers import AutoTokenizer, set_seed

from stages.lib.config.params import load_params, training_identity
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import DATA_DIR, FP32_DIR, method_dir
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.modeling.checkpoints import Checkpointer
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.distillation import DistillSettings, distilling_loss_fn
from stages.lib.modeling.distributed import is_main, make_accelerator, relaunch_if_asked
from stages.lib.modeling.evaluation import eval_splits, evaluate_torch
from stages.lib.modeling.features import input_settings, train_items
from stages.lib.modeling.models import disable_dropout, load_task_model
from stages.lib.modeling.train_settings import TrainSettings
from stages.lib.modeling.training import task_loss, train
from stages.lib.quantization.nncf_backend import quantize_once, save_quantized
from stages.lib.quantization.records import write_record
from stages.lib.quantization.scheme import Scheme

OUT_DIR = method_dir("qat")


def main():
    params = load_params()
    relaunch_if_asked(params["train"], "stages.qat")
    task, device, qat = load_task(params), pick_device(params["device"]), params["qat"]
    scheme, distill = Scheme.from_params(params, task), DistillSettings.from_params(qat["distill"])
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
        write_record(scratch, "qat", scheme.describe("qat") + (
            f", distill a={distill.alpha} T={distill.temperature}" if distill else ""), params)
    checkpointer.clear()
    print(f"QAT {task.name}: {curves.eval[-1]} in {wall_s:.0f} s; training {curves.throughput()}")
    return {"quantize_s": round(wall_s, 2), "device": device.type,
            "eval_s": round(curves.eval_seconds, 1), "training": curves.throughput()}


if __name__ == "__main__":
    run_stage(main, timed=True)
