"""Stage 2: fine-tune the base model on the task in FP32.

With `train.num_processes` > 1 the stage runs as that many DDP processes (distributed.py);
rank 0 evaluates and writes. Outputs: models/fp32/ (a Hugging Face model folder) and the
training curves. With model.finetuned the checkpoint is kept as published: scored, not trained.
"""

from transformers import AutoTokenizer, set_seed

from stages.lib.config.params import load_params, training_identity
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import BASE_MODEL_DIR, CURVES_DIR, DATA_DIR, FP32_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.modeling.checkpoints import Checkpointer
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.distributed import is_main, make_accelerator, relaunch_if_asked
from stages.lib.modeling.evaluation import eval_splits, evaluate_torch
from stages.lib.modeling.features import input_settings, train_items
from stages.lib.modeling.models import load_task_model, save_model_folder
from stages.lib.modeling.train_settings import TrainSettings
from stages.lib.modeling.training import Curves, train


def keep_published(params: dict, task, device) -> dict:
    """model.finetuned: the checkpoint is the FP32 model as published; scored, not trained."""
    check_prepared_task(DATA_DIR, task)
    settings = input_settings(params, task)
    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL_DIR)
    model = load_task_model(BASE_MODEL_DIR, task).to(device)
    splits = eval_splits(DATA_DIR, task, tokenizer, settings, params["evaluate"]["batch_size"])
    curves = Curves(loss=[], eval=[{"step": 0, "epoch": 0,
                                    **evaluate_torch(model, splits, task, settings, device)}])
    with atomic_dir(FP32_DIR) as scratch:
        save_model_folder(model.cpu(), tokenizer, scratch)
    curves.write(CURVES_DIR, "finetune")
    print(f"FP32 {task.name}: {params['model']['name']} as published, not trained: "
          f"{curves.eval[-1]}")
    return {}


def main():
    params = load_params()
    if params["model"]["finetuned"]:
        return keep_published(params, load_task(params), pick_device(params["device"]))
    relaunch_if_asked(params["train"], "stages.finetune")
    task, device = load_task(params), pick_device(params["device"])
    check_prepared_task(DATA_DIR, task)
    accelerator = make_accelerator(device, params["train"]["mixed_precision"])
    set_seed(params["seed"])
    settings = input_settings(params, task)

    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL_DIR)
    model = load_task_model(BASE_MODEL_DIR, task)
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task, settings)
    splits = eval_splits(DATA_DIR, task, tokenizer, settings, params["evaluate"]["batch_size"])
    checkpointer = Checkpointer(
        "finetune", params["train"]["checkpoint_every"], training_identity(params, "finetune"),
        files=[DATA_DIR / "train.jsonl", BASE_MODEL_DIR / "model.safetensors"])

    curves = train(model, items, tokenizer, TrainSettings.from_params(params, "finetune"),
                   accelerator, evaluate_fn=lambda m: evaluate_torch(m, splits, task, settings,
                                                                     device),
                   desc=f"FP32 fine-tune on {device.type}", checkpointer=checkpointer)
    if not is_main():
        return None

    with atomic_dir(FP32_DIR) as scratch:
        save_model_folder(model.cpu(), tokenizer, scratch)
    curves.write(CURVES_DIR, "finetune")
    checkpointer.clear()
    print(f"FP32 {task.name}: {curves.eval[-1]}; training {curves.throughput()}")
    return {"training": curves.throughput()}  # kept in reports/timings/finetune.json


if __name__ == "__main__":
    run_stage(main, timed=True)
