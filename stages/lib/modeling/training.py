"""The training loop shared by FP32 fine-tuning and QAT, with curves for `dvc plots`."""
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from ..core.errors import PipelineError
from ..core.files import write_text
from .checkpoints import restore_rng
from .distributed import share_of_batch
from .inputs import make_loader, to_device


@dataclass
class TrainSettings:
    epochs: float
    lr: float
    batch_size: int
    weight_decay: float
    warmup_ratio: float
    max_grad_norm: float
    log_every: int
    group_by_length: bool
    seed: int
    abort_grad_norm: float | None  # a gradient norm above this stops training (divergence)

    @classmethod
    def from_params(cls, params: dict, section: str):
        keys = ("epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "max_grad_norm",
                "log_every", "group_by_length")
        return cls(**{key: params[section][key] for key in keys}, seed=params["seed"],
                   abort_grad_norm=params["train"]["abort_grad_norm"])


@dataclass
class Curves:
    loss: list   # rows {step, loss}
    eval: list   # rows {step, epoch, <metrics>}
    eval_seconds: float = 0.0  # time spent scoring, so that costs can leave it out
    train_seconds: float = 0.0  # optimizer steps only (data loading included, scoring not)
    steps: int = 0
    examples: int = 0
    tokens: int = 0  # padded tokens seen: what the steps really computed

    def throughput(self) -> dict:
        """Mean step time and rates, comparable between FP32 fine-tuning and QAT."""
        seconds = self.train_seconds or float("nan")
        return {"steps": self.steps, "step_ms": round(1000.0 * seconds / max(1, self.steps), 1),
                "examples_per_s": round(self.examples / seconds, 1),
                "padded_tokens_per_step": round(self.tokens / max(1, self.steps), 1)}

    def write(self, folder: Path, stage: str) -> None:
        for kind, rows in (("loss", self.loss), ("eval", self.eval)):
            write_text(folder / f"{stage}_{kind}.csv", pd.DataFrame(rows).to_csv(index=False))


def decayed_parameter_ids(model) -> set:
    """Only Linear and Embedding weights are decayed: not biases, LayerNorms, or NNCF's
    quantizer scales (per-channel ones are 2-D, so shape alone cannot tell them apart)."""
    return {id(module.weight) for module in model.modules()
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding))}


def make_optimizer(model, settings: TrainSettings, device):
    params = [p for p in model.parameters() if p.requires_grad]
    decayed = decayed_parameter_ids(model)
    groups = [{"params": [p for p in params if id(p) in decayed],
               "weight_decay": settings.weight_decay},
              {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]
    # The fused kernel is several times faster per step on CPU as well as on CUDA.
    return torch.optim.AdamW(groups, lr=settings.lr, fused=device.type in ("cpu", "cuda"))


def task_loss(model, batch):
    return model(**batch).loss


def train(model, items, tokenizer, settings: TrainSettings, accelerator, evaluate_fn, desc,
          eval_at_start=False, loss_fn=task_loss, checkpointer=None) -> Curves:
    """Train `model` in place on `accelerator`'s processes; `evaluate_fn(model)` gives the
    metrics logged at each epoch end (and at step 0 with `eval_at_start`, e.g. right after QAT
    calibration), on rank 0 only; `loss_fn(model, batch)` is what is minimised (the task loss,
    or a distillation mix). With a `checkpointer`, the state is saved every N steps and a run
    killed earlier resumes from it."""
    device, main = accelerator.device, accelerator.is_main_process
    loader = make_loader(items, tokenizer, settings.batch_size, shuffle=True, seed=settings.seed,
                         group_by_length=settings.group_by_length)
    total_steps = max(1, math.ceil(settings.epochs * len(loader)))
    model.to(device)
    optimizer = make_optimizer(model, settings, device)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(settings.warmup_ratio * total_steps), total_steps)
    curves, window = Curves(loss=[], eval=[]), []
    resumed = checkpointer.load() if checkpointer else None
    if resumed:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        window = resumed["progress"].pop("window")
        curves = Curves(**resumed["progress"])
    resume_at = resumed["step"] if resumed else 0
    prepared, optimizer = accelerator.prepare(model, optimizer)

    def timed_evaluation():
        start = time.perf_counter()
        metrics = evaluate_fn(model)
        curves.eval_seconds += time.perf_counter() - start
        return metrics

    if eval_at_start and not resumed:
        if main:
            curves.eval.append({"step": 0, "epoch": 0.0, **timed_evaluation()})
            tqdm.write(f"{desc} step 0: {curves.eval[-1]}")
        accelerator.wait_for_everyone()
    started, scored_before, trained_before = (time.perf_counter(), curves.eval_seconds,
                                              curves.train_seconds)

    def seconds_trained():
        scoring = curves.eval_seconds - scored_before
        return trained_before + time.perf_counter() - started - scoring

    step = 0
    with tqdm(total=total_steps, initial=resume_at, desc=desc, unit="step",
              disable=not main) as bar:
        while step < total_steps:
            prepared.train()
            for global_batch in loader:
                step += 1
                if step == resume_at:  # the data order is replayed up to the checkpoint
                    restore_rng(resumed["rng"])
                if step > resume_at:
                    loss = training_step(prepared, global_batch, loss_fn, accelerator, settings,
                                         f"{desc}, step {step}")
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    curves.examples += len(global_batch["input_ids"])
                    curves.tokens += global_batch["input_ids"].numel()
                    window.append(loss)
                    bar.update(1)
                    if step % settings.log_every == 0 or step == total_steps:
                        curves.loss.append({"step": step,
                                            "loss": round(sum(window) / len(window), 5)})
                        bar.set_postfix(loss=f"{curves.loss[-1]['loss']:.4f}")
                        window = []
                    if step % len(loader) == 0 or step == total_steps:
                        if main:
                            metrics = timed_evaluation()
                            curves.eval.append({"step": step, "epoch": round(step / len(loader), 3),
                                                **metrics})
                            tqdm.write(f"{desc} step {step}: {metrics}")
                        accelerator.wait_for_everyone()
                    if checkpointer and checkpointer.due(step) and step < total_steps:
                        curves.train_seconds = seconds_trained()
                        checkpointer.save(step, model, optimizer, scheduler,
                                          {**asdict(curves), "window": window})
                if step == total_steps:
                    break
    curves.steps = step
    curves.train_seconds = seconds_trained()
    accelerator.unwrap_model(prepared, keep_fp32_wrapper=False)
    if accelerator.num_processes > 1:
        torch.distributed.destroy_process_group()
    return curves


def training_step(prepared, global_batch, loss_fn, accelerator, settings, where) -> float:
    """Forward and backward of this process's share of the batch, gradients clipped; returns
    the global batch's mean loss. Stops on a non-finite loss or an exploding gradient."""
    batch, weight = share_of_batch(global_batch, accelerator.process_index,
                                   accelerator.num_processes)
    with accelerator.autocast():
        loss = loss_fn(prepared, to_device(batch, accelerator.device))
    accelerator.backward(loss * weight)
    grad_norm = accelerator.clip_grad_norm_(prepared.parameters(), settings.max_grad_norm)
    mean_loss = accelerator.reduce(loss.detach().float() * weight, reduction="mean").item()
    if not math.isfinite(mean_loss):
        raise PipelineError(f"{where}: the loss became {mean_loss}; lower the learning rate, "
                            "raise warmup_ratio, or check the labels")
    if accelerator.mixed_precision != "fp16":  # fp16's loss scaler skips overflowing steps
        grad_norm = float(grad_norm)
        if not math.isfinite(grad_norm) or (settings.abort_grad_norm
                                            and grad_norm > settings.abort_grad_norm):
            raise PipelineError(
                f"{where}: the gradient norm is {grad_norm:.4g}, above "
                f"train.abort_grad_norm={settings.abort_grad_norm}: training is diverging; lower "
                "the learning rate or raise warmup_ratio (or the limit, if such norms are "
                "normal for this model)")
    return mean_loss
