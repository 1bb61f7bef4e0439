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
from .train_settings import TrainSettings


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
        # A checkpoint kept as published has no loss points: its file keeps the header.
        write_text(folder / f"{stage}_loss.csv",
                   pd.DataFrame(self.loss, columns=["step", "loss"]).to_csv(index=False))
        write_text(folder / f"{stage}_eval.csv", pd.DataFrame(self.eval).to_csv(index=False))


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
    run = TrainingRun(model, items, tokenizer, settings, accelerator, evaluate_fn, desc,
                      loss_fn, checkpointer)
    if eval_at_start and not run.resumed:
        run.evaluate(step=0)
    return run.run()


class TrainingRun:
    """The state of one `train` call: optimizer, schedule, curves, and where a resumed run
    picks up."""

    def __init__(self, model, items, tokenizer, settings, accelerator, evaluate_fn, desc,
                 loss_fn, checkpointer):
        self.model, self.settings, self.accelerator, self.desc = model, settings, accelerator, desc
        self.evaluate_fn, self.loss_fn, self.checkpointer = evaluate_fn, loss_fn, checkpointer
        self.loader = make_loader(items, tokenizer, settings.batch_size, shuffle=True,
                                  seed=settings.seed, group_by_length=settings.group_by_length)
        self.total_steps = max(1, math.ceil(settings.epochs * len(self.loader)))
        model.to(accelerator.device)
        self.optimizer = make_optimizer(model, settings, accelerator.device)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, int(settings.warmup_ratio * self.total_steps), self.total_steps)
        self.curves, self.window = Curves(loss=[], eval=[]), []
        self.resumed = self.restore()
        self.resume_at = self.resumed["step"] if self.resumed else 0
        self.prepared, self.optimizer = accelerator.prepare(model, self.optimizer)

    def restore(self) -> dict | None:
        """The checkpoint of an earlier, interrupted run with the same identity, loaded."""
        resumed = self.checkpointer.load() if self.checkpointer else None
        if resumed:
            self.model.load_state_dict(resumed["model"])
            self.optimizer.load_state_dict(resumed["optimizer"])
            self.scheduler.load_state_dict(resumed["scheduler"])
            self.window = resumed["progress"].pop("window")
            self.curves = Curves(**resumed["progress"])
        return resumed

    def evaluate(self, step: int) -> None:
        """Score on rank 0 (the others wait); scoring time is kept out of the training time."""
        if self.accelerator.is_main_process:
            start = time.perf_counter()
            metrics = self.evaluate_fn(self.model)
            self.curves.eval_seconds += time.perf_counter() - start
            self.curves.eval.append({"step": step, "epoch": round(step / len(self.loader), 3),
                                     **metrics})
            tqdm.write(f"{self.desc} step {step}: {metrics}")
        self.accelerator.wait_for_everyone()

    def seconds_trained(self) -> float:
        scoring = self.curves.eval_seconds - self.scored_before
        return self.trained_before + time.perf_counter() - self.started - scoring

    def run(self) -> Curves:
        self.started = time.perf_counter()
        self.scored_before = self.curves.eval_seconds
        self.trained_before = self.curves.train_seconds
        step = 0
        with tqdm(total=self.total_steps, initial=self.resume_at, desc=self.desc, unit="step",
                  disable=not self.accelerator.is_main_process) as bar:
            while step < self.total_steps:
                self.prepared.train()
                for global_batch in self.loader:
                    step += 1
                    if step == self.resume_at:  # the data order is replayed up to the checkpoint
                        restore_rng(self.resumed["rng"])
                    if step > self.resume_at:
                        self.step(step, global_batch, bar)
                    if step == self.total_steps:
                        break
        self.curves.steps = step
        self.curves.train_seconds = self.seconds_trained()
        self.accelerator.unwrap_model(self.prepared, keep_fp32_wrapper=False)
        if self.accelerator.num_processes > 1:
            torch.distributed.destroy_process_group()
        return self.curves

    def step(self, step: int, global_batch: dict, bar) -> None:
        """One optimizer step, then the loss point, the epoch-end score and the checkpoint
        that are due at it."""
        loss = training_step(self.prepared, global_batch, self.loss_fn, self.accelerator,
                             self.settings, f"{self.desc}, step {step}")
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.curves.examples += len(global_batch["input_ids"])
        self.curves.tokens += global_batch["input_ids"].numel()
        self.window.append(loss)
        bar.update(1)
        last = step == self.total_steps
        if step % self.settings.log_every == 0 or last:
            self.curves.loss.append({"step": step,
                                     "loss": round(sum(self.window) / len(self.window), 5)})
            bar.set_postfix(loss=f"{self.curves.loss[-1]['loss']:.4f}")
            self.window = []
        if step % len(self.loader) == 0 or last:
            self.evaluate(step)
        if self.checkpointer and self.checkpointer.due(step) and not last:
            self.curves.train_seconds = self.seconds_trained()
            self.checkpointer.save(step, self.model, self.optimizer, self.scheduler,
                                   {**asdict(self.curves), "window": self.window})


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
