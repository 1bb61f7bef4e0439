"""The training loop shared by FP32 fine-tuning and QAT, with curves for `dvc plots`."""
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from .errors import PipelineError
from .modeling import make_loader, to_device
from .outputs import write_text


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

    @classmethod
    def from_params(cls, section: dict, seed: int):
        keys = ("epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "max_grad_norm",
                "log_every", "group_by_length")
        return cls(**{key: section[key] for key in keys}, seed=seed)


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


def train(model, items, tokenizer, settings: TrainSettings, device, evaluate_fn, desc,
          eval_at_start=False, loss_fn=task_loss) -> Curves:
    """Train `model` in place; `evaluate_fn(model)` gives the metrics logged at each epoch end
    (and at step 0 with `eval_at_start`, e.g. right after QAT calibration); `loss_fn(model,
    batch)` is what is minimised (the task loss, or a distillation mix)."""
    loader = make_loader(items, tokenizer, settings.batch_size, shuffle=True, seed=settings.seed,
                         group_by_length=settings.group_by_length)
    total_steps = max(1, math.ceil(settings.epochs * len(loader)))
    optimizer = make_optimizer(model, settings, device)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(settings.warmup_ratio * total_steps), total_steps)
    curves, window, step = Curves(loss=[], eval=[]), [], 0

    def timed_evaluation():
        start = time.perf_counter()
        metrics = evaluate_fn(model)
        curves.eval_seconds += time.perf_counter() - start
        return metrics

    model.to(device)
    if eval_at_start:
        curves.eval.append({"step": 0, "epoch": 0.0, **timed_evaluation()})
        tqdm.write(f"{desc} step 0: {curves.eval[-1]}")
    started, scored_before = time.perf_counter(), curves.eval_seconds
    with tqdm(total=total_steps, desc=desc, unit="step") as bar:
        while step < total_steps:
            model.train()
            for batch in loader:
                loss = loss_fn(model, to_device(batch, device))
                if not torch.isfinite(loss):
                    raise PipelineError(f"{desc}: loss became {loss.item()} at step {step + 1}; "
                                        "lower the learning rate or check the labels")
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                curves.examples += len(batch["input_ids"])
                curves.tokens += batch["input_ids"].numel()
                window.append(loss.item())
                bar.update(1)
                if step % settings.log_every == 0 or step == total_steps:
                    curves.loss.append({"step": step, "loss": round(sum(window) / len(window), 5)})
                    bar.set_postfix(loss=f"{curves.loss[-1]['loss']:.4f}")
                    window = []
                if step % len(loader) == 0 or step == total_steps:
                    metrics = timed_evaluation()
                    curves.eval.append({"step": step, "epoch": round(step / len(loader), 3),
                                        **metrics})
                    tqdm.write(f"{desc} step {step}: {metrics}")
                if step == total_steps:
                    break
    curves.steps = step
    curves.train_seconds = time.perf_counter() - started - (curves.eval_seconds - scored_before)
    return curves
