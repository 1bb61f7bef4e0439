"""Stage benchmark: every model on every runtime, timed side by side and scored.

PyTorch FP32, then FP32 and each INT8 model on ONNX Runtime and on OpenVINO (with its float
parts in FP32 and in BF16), at each batch size, sequence length and thread count in
`benchmark:`, with warm-up, median and p90. Every engine has a score on the validation split
through the same `Engine.infer` that is timed, so a fast number never hides a wrong one: PyTorch
and ONNX Runtime as the evaluate and export stages measured them (each model is scored once
per runtime), OpenVINO here.
Outputs: reports/benchmark/{accuracy.json (metrics), timings.json, timings.csv,
benchmark.md, benchmark.png}.
"""

import pandas as pd
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir, read_json, size_mb, write_json, write_text
from stages.lib.core.paths import BENCHMARK_DIR as OUT
from stages.lib.core.paths import DATA_DIR, EVAL_DIR, FP32_DIR, ONNX_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task
from stages.lib.inference.engines import onnxruntime_engine, openvino_engine, pytorch_engine
from stages.lib.inference.fusion import openvino_cannot_read
from stages.lib.inference.machine import cpu_description, versions
from stages.lib.inference.profiling import engine_ops
from stages.lib.inference.timing import thread_count, time_call
from stages.lib.modeling.evaluation import evaluation_inputs
from stages.lib.modeling.inputs import latency_batch
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.methods import onnx_row
from stages.lib.reporting.benchmark_report import (
    describe,
    fastest,
    grid_table,
    markdown,
    shapes,
    speed_targets,
)
from stages.lib.reporting.charts import plot_benchmark
from stages.lib.tasks.metrics import headline_split


def engine_builders(params: dict, task) -> tuple:
    """One `build(threads) -> Engine` per model × runtime × float precision asked, and why the
    ones left out could not run (an ONNX Runtime-only fused INT8 file on OpenVINO)."""
    bench, models = params["benchmark"], ["fp32", *params["methods"]]
    builders, not_run = [], []
    if "pytorch" in bench["runtimes"]:
        builders.append(lambda t: pytorch_engine("fp32", load_task_model(FP32_DIR, task),
                                                 task.output_names, t))
    for model in models:
        path = ONNX_DIR / f"{model}.onnx"
        if "onnxruntime" in bench["runtimes"]:
            builders.append(lambda t, m=model, p=path: onnxruntime_engine(m, p, t))
        unreadable = "openvino" in bench["runtimes"] and openvino_cannot_read(path)
        if unreadable:
            not_run.append(f"{model} on openvino: {unreadable}")
        elif "openvino" in bench["runtimes"]:
            builders += [lambda t, m=model, p=path, f=f: openvino_engine(m, p, t, f)
                         for f in bench["openvino_precisions"]]
    return builders, not_run


# The stage that already scored each runtime's engines (each model is scored once per
# runtime), and the row it wrote for a model.
SCORED_BY = {"pytorch": (EVAL_DIR / "pytorch.json", lambda model: model),
             "onnxruntime": (EVAL_DIR / "onnx.json", onnx_row)}


def accuracy_of(engine, split, task, settings, scored: dict) -> dict:
    """The validation split's scores and `main`: those evaluate/export wrote for this model on
    this runtime (`scored`: runtime -> their file's content), else measured here."""
    if engine.runtime in scored:
        _, row = SCORED_BY[engine.runtime]
        return headline_split(scored[engine.runtime][row(engine.model)], task)
    metrics = task.kind.score(engine.predict(split.loader), split, task, settings)
    return {**metrics, "main": metrics[task.main_metric]}


def profile(rows: list, rebuild: dict, batches: dict, seq: int, threads: int) -> dict:
    """Time per operator at the largest batch: the fastest INT8 engine, the fastest float one,
    and the fastest INT8 model on ONNX Runtime (the results table's runtime) when it differs.
    `rebuild`: engine name -> a new copy of that engine (at `threads`)."""
    largest = max(r["batch"] for r in rows)
    ort_rows = [r for r in rows if r["runtime"] == "onnxruntime"]
    picks = [fastest(rows, largest, seq, threads, int8=True),
             fastest(rows, largest, seq, threads, int8=False),
             fastest(ort_rows, largest, seq, threads, int8=True)]
    tables = {}
    for best in picks:
        if best is None or best["runtime"] == "pytorch" or describe(best) in tables:
            continue
        engine = rebuild[f"{best['model']}/{best['runtime']}/{best['precision']}"]()
        tables[describe(best)] = engine_ops(engine, batches[(largest, seq)])
    return tables


def time_engine(engine, batches: dict, bench: dict) -> list:
    rows = []
    for (batch, seq), inputs in batches.items():
        timing = time_call(lambda: engine.infer(inputs), bench["warmup"], bench["repeats"],
                           bench["min_seconds"] or 0.0)
        rows.append({"model": engine.model, "runtime": engine.runtime,
                     "precision": engine.precision, "threads": engine.threads, "batch": batch,
                     "seq": seq, "median_ms": timing["latency_ms"],
                     "p90_ms": timing["latency_p90_ms"], "runs": timing["runs"],
                     "items_per_s": round(1000.0 * batch / timing["latency_ms"], 1)})
        tqdm.write(f"{engine.name} {engine.threads}t b{batch} s{seq}: {rows[-1]['median_ms']} ms")
    return rows


def main():
    params = load_params()
    task, bench = load_task(params), params["benchmark"]
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(FP32_DIR)
    settings, splits, _ = evaluation_inputs(params, task, tokenizer, DATA_DIR)
    validation = splits[task.eval_splits[0]]
    grid = shapes(bench["batch_sizes"], bench["seq_lengths"], settings.max_length)
    thread_counts = list(dict.fromkeys(thread_count(t) for t in bench["threads"]))
    batches = {(b, s): latency_batch(tokenizer, validation.frame, b, s) for b, s in grid}

    rows, accuracy, rebuild = [], {}, {}
    scored = {runtime: read_json(path) for runtime, (path, _) in SCORED_BY.items()}
    builders, not_run = engine_builders(params, task)
    for build in tqdm(builders, desc="engines", unit="engine"):
        for threads in sorted(thread_counts, reverse=True):
            engine = build(threads)
            if threads == max(thread_counts):
                if engine.name in accuracy:  # a BF16 hint on a CPU without BF16 runs FP32
                    tqdm.write(f"{engine.name}: the same engine as before, skipped")
                    break
                accuracy[engine.name] = accuracy_of(engine, validation, task, settings, scored)
                rebuild[engine.name] = lambda build=build, threads=threads: build(threads)
            rows += time_engine(engine, batches, bench)
    models = ["fp32", *params["methods"]]
    sizes = {model: size_mb(ONNX_DIR / f"{model}.onnx") for model in models}
    seq, threads = grid[0][1], max(thread_counts)
    targets = speed_targets(rows, sizes, seq, threads)
    profiles = profile(rows, rebuild, batches, seq, threads) if bench["profile"] else {}
    machine = {**cpu_description(), **versions()}

    with atomic_dir(OUT) as scratch:
        write_json(scratch / "accuracy.json", accuracy)
        write_json(scratch / "timings.json", {"machine": machine, "targets": targets,
                                              "rows": rows})
        write_text(scratch / "timings.csv", pd.DataFrame(rows).to_csv(index=False))
        write_text(scratch / "benchmark.md", markdown(
            task, machine, grid_table(rows, accuracy, sizes), targets, profiles, bench,
            not_run))
        plot_benchmark(rows, seq, threads, scratch / "benchmark.png")
    print(grid_table(rows, accuracy, sizes).to_string(index=False))
    for line in targets:
        print(line)


if __name__ == "__main__":
    run_stage(main, timed=True)
