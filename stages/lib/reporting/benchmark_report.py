"""The benchmark report: one row per engine over the grid of settings, the speed targets
measured, and the markdown page."""

import pandas as pd


def shapes(batch_sizes: list, seq_lengths: list, real_length: int) -> list:
    """(batch, sequence) pairs; a null sequence length is the task's own input length."""
    lengths = list(dict.fromkeys(length or real_length for length in seq_lengths))
    return [(batch, length) for batch in batch_sizes for length in lengths]


def grid_table(rows: list, accuracy: dict, sizes: dict) -> pd.DataFrame:
    """One row per engine: its validation score, file size and one median-ms column per
    (threads, batch, sequence) setting."""
    frame = pd.DataFrame(rows)
    frame["setting"] = [f"{r.threads}t b{r.batch} s{r.seq}" for r in frame.itertuples()]
    keys = ["model", "runtime", "precision"]
    table = frame.pivot_table(index=keys, columns="setting", values="median_ms",
                              sort=False).reset_index()
    table.columns.name = None
    names = ["/".join(key) for key in table[keys].itertuples(index=False)]
    table.insert(3, "main", [accuracy.get(name, {}).get("main") for name in names])
    table.insert(4, "size_mb", [sizes.get(m) if r != "pytorch" else None
                                for m, r in zip(table["model"], table["runtime"])])
    return table


def blank_missing(table: pd.DataFrame) -> pd.DataFrame:
    """NaN (PyTorch has no ONNX file) as None, which tabulate prints as its missingval."""
    return table.astype(object).where(table.notna(), None)


def float_precision(label: str) -> str:
    """The OpenVINO float hint behind a precision label: 'INT8 + BF16' -> 'bf16'."""
    return "bf16" if "BF16" in label else "f32"


def markdown(task, machine: dict, table: pd.DataFrame, targets: list, profiles: dict,
             settings: dict, not_run: list = ()) -> str:
    lines = [f"# {task.name}: every model on every runtime", "",
             f"- CPU: {machine['cpu']}, {machine['cores']} cores; ISA: "
             f"{', '.join(machine['isa']) or 'none of the INT8/BF16 extensions'}",
             "- " + ", ".join(f"{k} {v}" for k, v in machine.items()
                              if k not in ("cpu", "cores", "isa")),
             f"- median ms of {runs_text(settings)} after {settings['warmup']} warm-up runs; "
             "columns are `<threads>t b<batch> s<sequence length>`; p90 and runs in timings.csv",
             f"- main = `{task.main_metric}` on the validation split, scored through the "
             "same runtime call that is timed; size = the ONNX file the runtime reads", "",
             blank_missing(table).to_markdown(index=False, floatfmt=".2f", missingval="-"), "",
             *[f"- not run: {reason}" for reason in not_run], *([""] if not_run else []),
             "## Targets", "",
             pd.DataFrame(targets).to_markdown(index=False) if targets else "none measured"]
    for name, ops in profiles.items():
        lines += ["", f"## Where the time goes: {name}", "", ops.to_markdown(index=False)]
    return "\n".join(lines) + "\n"


def runs_text(settings: dict) -> str:
    least = settings.get("min_seconds")
    return (f"{settings['repeats']} runs" if not least else
            f"at least {settings['repeats']} runs and {least} s")


def fastest(rows: list, batch: int, seq: int, threads: int, int8: bool) -> dict | None:
    """The quickest engine at one setting, among INT8 engines or among float ones."""
    candidates = [r for r in rows if (r["batch"], r["seq"], r["threads"]) == (batch, seq, threads)
                  and r["precision"].startswith("INT8") == int8]
    return min(candidates, key=lambda r: r["median_ms"], default=None)


def ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 2) if denominator else float("nan")


# Issue 19's targets: speedups at the largest and the smallest batch, upper bounds for the
# file and the QAT step. They set the verdicts only, never a model.
GOALS = {"int8_vs_float": (1.8, 1.5), "ort_int8_vs_ort_fp32": (2.5, 2.0),
         "qat_on_ort_vs_ort_fp32": 1.5, "int8_file_vs_fp32_file": 0.3,
         "qat_step_vs_fp32_step": 1.3}


def speed_targets(rows: list, sizes: dict, seq: int, threads: int, goals=GOALS) -> list:
    """The goals, measured: the fastest INT8 engine against the fastest float one, the
    fastest ONNX Runtime INT8 engine and QAT's file against ONNX Runtime FP32, at the largest
    and smallest batch; the smallest INT8 file against FP32's."""
    batches = sorted({r["batch"] for r in rows})
    # (batch, index of its goal): one batch size is held to the small-batch goals only
    shapes = [(max(batches), 0), (min(batches), 1)] if len(batches) > 1 else [(batches[0], 1)]
    ort = [r for r in rows if r["runtime"] == "onnxruntime"]
    results = []
    for batch, i in shapes:
        results += [speedup(f"fastest INT8 vs fastest float, batch {batch}",
                            fastest(rows, batch, seq, threads, int8=True),
                            fastest(rows, batch, seq, threads, int8=False),
                            goals["int8_vs_float"][i])]
    for batch, i in shapes:
        results += [speedup(f"fastest ONNX Runtime INT8 vs ONNX Runtime FP32, batch {batch}",
                            fastest(ort, batch, seq, threads, int8=True),
                            fastest(ort, batch, seq, threads, int8=False),
                            goals["ort_int8_vs_ort_fp32"][i])]
    small = min(batches)
    results += [speedup(f"QAT on ONNX Runtime vs ONNX Runtime FP32, batch {small}",
                        fastest([r for r in ort if r["model"] == "qat"], small, seq, threads,
                                int8=True),
                        fastest(ort, small, seq, threads, int8=False),
                        goals["qat_on_ort_vs_ort_fp32"])]
    int8_sizes = {model: mb for model, mb in sizes.items() if model != "fp32"}
    if int8_sizes and "fp32" in sizes:
        smallest = min(int8_sizes, key=int8_sizes.get)
        results.append(target("INT8 file vs FP32 file", ratio(int8_sizes[smallest], sizes["fp32"]),
                              goals["int8_file_vs_fp32_file"], False,
                              f"{smallest} {int8_sizes[smallest]} MB vs fp32 "
                              f"{sizes['fp32']} MB"))
    return [r for r in results if r]


def speedup(name: str, int8: dict | None, float_: dict | None, goal: float) -> dict | None:
    """float_ / int8 time as a target; None when either engine was not timed."""
    if not (int8 and float_):
        return None
    return target(name, ratio(float_["median_ms"], int8["median_ms"]), goal, True,
                  f"{describe(int8)} vs {describe(float_)}")


def training_step_target(fp32: dict, qat: dict, goal=GOALS["qat_step_vs_fp32_step"]) -> dict:
    """QAT's mean step time against FP32 fine-tuning's (same batch size by default)."""
    return target("QAT step vs FP32 step", ratio(qat["step_ms"], fp32["step_ms"]), goal, False,
                  f"QAT {qat['step_ms']} ms vs FP32 {fp32['step_ms']} ms per step "
                  f"({qat['padded_tokens_per_step']:.0f} vs {fp32['padded_tokens_per_step']:.0f}"
                  " padded tokens per step)")


def target(name: str, measured: float, goal: float, higher_is_better: bool, detail: str) -> dict:
    met = measured >= goal if higher_is_better else measured <= goal
    return {"target": name, "measured": measured,
            "goal": f"{'>=' if higher_is_better else '<='} {goal}", "met": bool(met),
            "detail": detail}


def describe(row: dict) -> str:
    return f"{row['model']} on {row['runtime']} {row['precision']} {row['median_ms']} ms"
