"""Two sets of ONNX files timed side by side: the same models before and after a change to how
they are exported (fusion, a new opset, another quantizer), in one process, in rounds that
alternate between them so that a machine's drift hits both alike.

Not a pipeline stage. After `dvc repro`, with the committed files of an earlier commit:

    dvc get . models/onnx --rev <commit> -o /tmp/before     # from this repo's DVC cache
    python -m stages.tools.compare_onnx --before /tmp/before --after models/onnx

Every `<model>.onnx` found in both folders runs on ONNX Runtime and on OpenVINO (FP32 float
parts; files OpenVINO cannot read are named), at batch 1 and 32, sequence 128 and the task's
own length, with all cores. Prints a markdown table (median ms of the rounds' medians) with
the after/before ratio and the fused ops of each file; `--out` also writes it.
"""
import argparse
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from transformers import AutoTokenizer

from stages.benchmark import time_engine
from stages.lib.config.params import load_params
from stages.lib.core.files import write_text
from stages.lib.core.paths import DATA_DIR, FP32_DIR
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.inference.engines import onnxruntime_engine, openvino_engine
from stages.lib.inference.fusion import fused_ops, openvino_cannot_read
from stages.lib.inference.timing import thread_count
from stages.lib.modeling.inputs import latency_batch


def engines(folders: dict, threads: int) -> tuple:
    """{(model, runtime): {label: engine}} for the models in every folder, and what could not
    run."""
    models = sorted(set.intersection(*({p.stem for p in Path(f).glob("*.onnx")}
                                       for f in folders.values())))
    built, not_run = {}, []
    for model in models:
        for label, folder in folders.items():
            path = Path(folder) / f"{model}.onnx"
            built.setdefault((model, "onnxruntime"), {})[label] = onnxruntime_engine(
                model, path, threads)
            reason = openvino_cannot_read(path)
            if reason:
                not_run.append(f"{model} ({label}) on openvino: {reason}")
            else:
                built.setdefault((model, "openvino"), {})[label] = openvino_engine(
                    model, path, threads, "f32")
    return built, not_run


def timed_rounds(built: dict, batches: dict, rounds: int, bench: dict) -> dict:
    """{(model, runtime, label, shape): [one median per round]}, labels alternating."""
    times = {}
    for _ in range(rounds):
        for (model, runtime), by_label in built.items():
            for label, engine in by_label.items():
                for row in time_engine(engine, batches, bench):
                    shape = (row["batch"], row["seq"])
                    times.setdefault((model, runtime, label, shape), []).append(row["median_ms"])
    return times


def table(times: dict, folders: dict, shapes: list) -> pd.DataFrame:
    before, after = list(folders)
    rows = []
    for model, runtime in dict.fromkeys((m, r) for m, r, _, _ in times):
        row = {"model": model, "runtime": runtime}
        for batch, seq in shapes:
            column = f"b{batch} s{seq}"
            pair = [times.get((model, runtime, label, (batch, seq))) for label in (before, after)]
            if None in pair:
                continue
            old, new = (float(np.median(values)) for values in pair)
            row[f"{column} {before}"], row[f"{column} {after}"] = round(old, 2), round(new, 2)
            row[f"{column} x"] = round(old / new, 2)
        rows.append(row)
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    params = load_params()
    task = load_task(params)
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    frame = read_split(DATA_DIR, task.eval_splits[0])
    shapes = list(dict.fromkeys([(1, 128), (32, 128), (1, params["data"]["max_seq_length"]),
                                 (32, params["data"]["max_seq_length"])]))
    batches = {shape: latency_batch(tokenizer, frame, *shape) for shape in shapes}
    folders = {"before": args.before, "after": args.after}
    built, not_run = engines(folders, thread_count(None))
    result = table(timed_rounds(built, batches, args.rounds, params["benchmark"]), folders, shapes)
    fused = {f"{model} ({label})": fused_ops(onnx.load(str(Path(folder) / f"{model}.onnx"),
                                                        load_external_data=False))
             for (model, runtime), by_label in built.items() if runtime == "onnxruntime"
             for label, folder in folders.items()}
    lines = [f"# ONNX files before ({args.before}) and after ({args.after})", "",
             f"median ms over {args.rounds} alternating rounds, {thread_count(None)} threads; "
             "`x` = before / after (above 1: after is faster)", "",
             result.to_markdown(index=False), "",
             *[f"- not run: {reason}" for reason in not_run],
             *[f"- fused ops, {name}: {ops or 'none'}" for name, ops in fused.items()]]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_text(args.out, text)


if __name__ == "__main__":
    main()
