"""Where a training step's time goes: FP32 fine-tuning against QAT, with torch.profiler.

Not a pipeline stage (it measures, it makes nothing the pipeline reads). After `dvc repro`:

    python -m stages.tools.profile_training              # 20 steps of each, batch as in params
    python -m stages.tools.profile_training --steps 40

Each runs the pipeline's own `train()` on the same length-grouped batches of the prepared
training split, from the fine-tuned FP32 model: FP32 as fine-tuning runs it (dropout on), QAT
after NNCF calibration with the `quantization` scheme (dropout off), on CPU once with NNCF's own
C++ extension and once with the compiled quantizers the pipeline uses. Writes
reports/profiles/training_step.md: mean step time of each, and the operators with the most
self CPU time per step.
"""
import argparse

import torch
from transformers import AutoTokenizer, set_seed

from stages.lib.config.params import load_params
from stages.lib.core.files import write_text
from stages.lib.core.paths import DATA_DIR, FP32_DIR, PROFILES_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.distributed import make_accelerator
from stages.lib.modeling.features import input_settings, train_items
from stages.lib.modeling.models import disable_dropout, load_task_model
from stages.lib.modeling.train_settings import TrainSettings
from stages.lib.modeling.training import train
from stages.lib.quantization.compiled_quantizers import (
    compiled_quantizers_in_use,
    use_compiled_quantizers,
)
from stages.lib.quantization.nncf_backend import quantize
from stages.lib.quantization.scheme import Scheme

OUT = PROFILES_DIR / "training_step.md"


def profiled_steps(model, items, tokenizer, settings, device, desc):
    """(train() curves, profiler key averages) over exactly len(items) / batch_size steps,
    after one step unprofiled (it builds what torch.compile builds once per process)."""
    train(model, items[:settings.batch_size], tokenizer, settings, make_accelerator(device, None),
          evaluate_fn=lambda m: {}, desc=f"{desc}, warm-up")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        curves = train(model, items, tokenizer, settings, make_accelerator(device, None),
                       evaluate_fn=lambda m: {}, desc=desc)
    return curves, prof.key_averages()


def top_ops(averages, steps: int, top: int = 12) -> str:
    rows = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    total = sum(e.self_cpu_time_total for e in averages) or 1
    lines = ["| op | self ms per step | share % | calls per step |", "|:--|--:|--:|--:|"]
    lines += [f"| `{e.key}` | {e.self_cpu_time_total / 1000 / steps:.1f} | "
              f"{100 * e.self_cpu_time_total / total:.1f} | {e.count / steps:.0f} |" for e in rows]
    return "\n".join(lines)


def runs(device) -> list:
    """(name, params section, compiled quantizers): FP32, then QAT with NNCF's own CPU
    extension and with the compiled quantizers the pipeline runs (the same arithmetic, so the
    same model: only the time differs). On CUDA NNCF's CUDA kernels run in either case."""
    qat = [("QAT", "qat", True)] if device.type == "cuda" else [
        ("QAT, NNCF's CPU extension", "qat", False), ("QAT, compiled quantizers", "qat", True)]
    return [("FP32", "finetune", False), *qat]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.profile_training")
    parser.add_argument("--steps", type=int, default=20, help="training steps profiled per model")
    args = parser.parse_args(argv)
    params = load_params()
    task, device = load_task(params), pick_device(params["device"])
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task,
                        input_settings(params, task))
    results = {}
    for name, section, compiled in runs(device):
        set_seed(params["seed"])
        one_epoch = {**params, section: {**params[section], "epochs": 1, "warmup_ratio": 0.0}}
        settings = TrainSettings.from_params(one_epoch, section)
        subset = items[:args.steps * settings.batch_size]
        model = load_task_model(FP32_DIR, task)
        if section == "qat":
            disable_dropout(model)
            model = quantize(model, items, tokenizer, Scheme.from_params(params, task), device)
            use_compiled_quantizers(compiled)
        results[name] = profiled_steps(model, subset, tokenizer, settings, device, f"{name} steps")
        if compiled and device.type == "cpu" and not compiled_quantizers_in_use():
            raise SystemExit("torch.compile could not build the fake-quantize kernels here "
                             "(see the warning above): nothing to compare")
    figures = {name: curves.throughput() for name, (curves, _) in results.items()}
    fp32_ms = figures["FP32"]["step_ms"]
    text = [f"# {task.name}: one training step, FP32 against QAT", "",
            f"- {args.steps} steps each on {device.type}, batch {params['finetune']['batch_size']} "
            f"(FP32) and {params['qat']['batch_size']} (QAT), "
            f"{torch.get_num_threads()} threads; under the profiler (its overhead included)",
            *[f"- {name}: {f['step_ms']} ms per step"
              + (f", {f['step_ms'] / fp32_ms:.2f}x FP32's" if name != "FP32" else "")
              + f" ({f['padded_tokens_per_step']:.0f} padded tokens per step)"
              for name, f in figures.items()]]
    for name, (curves, averages) in results.items():
        text += ["", f"## {name}", "", top_ops(averages, curves.steps)]
    write_text(OUT, "\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    run_stage(main)
