"""One table over many runs (not a DVC stage: it reads the DVC experiments themselves).

    python -m stages.tools.summarize                 # baselines + finished experiments of HEAD
    python -m stages.tools.summarize --rev COMMIT    # ... of that commit (repeatable)
    python -m stages.tools.summarize --all-commits   # ... of every commit; a params.yaml that
                                               # gained keys makes its runs a new column
    python -m stages.tools.summarize --exp 'mrpc-*' --exp sst2-s42   # only these experiments

    python -m stages.tools.summarize --input reports/summary/exp_show.json  # rebuild a summary

Writes reports/summary/{summary.md, summary.csv, runs.csv, summary.png, exp_show.json}: rows
FP32 and every INT8 method's models, columns tasks and their average; mean ± std (n - 1) where
runs differ only by seed; each task's best INT8 model marked; the relative drops published
work reports for the same tasks beside ours; and every INT8 method (FP32, PTQ static, PTQ
accuracy-aware, PTQ dynamic, QAT, QAT + distillation) per task with its size, latency and
cost, also as reports/summary/methods.csv. exp_show.json keeps the runs it was built from
(experiments are local git refs, which a clone does not get).
"""
import argparse
import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from stages.lib.core.errors import PipelineError
from stages.lib.core.files import write_text
from stages.lib.core.runner import run_stage
from stages.lib.reporting.experiment_runs import (
    LATENCY_FILE,
    METRICS_FILE,
    PARAMS_FILE,
    group_runs,
    runs_from_exp_show,
)
from stages.lib.reporting.references import load_references
from stages.lib.reporting.summary import (
    PICKED_ON_SCORED_SPLIT,
    drop_intervals,
    methods_table,
    published_drops,
    run_values,
    summary_tables,
)
from stages.lib.reporting.summary_chart import plot_summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.summarize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="read the experiments of every commit, not only HEAD's")
    parser.add_argument("--rev", action="append", default=[],
                        help="read the experiments of this commit (repeatable; default HEAD)")
    parser.add_argument("--exp", action="append", default=[],
                        help="keep only runs whose name matches (glob; repeatable)")
    parser.add_argument("--input", action="append", default=[],
                        help="a saved `dvc exp show --json` output to read instead, such as "
                             "the exp_show.json a summary writes (repeatable: runs of several "
                             "files together)")
    parser.add_argument("--out", default="reports/summary", help="output folder")
    return parser.parse_args(argv)


def exp_show(all_commits: bool, revs: list) -> list:
    command = [sys.executable, "-m", "dvc", "exp", "show", "--json"]
    command += ["--all-commits"] if all_commits else [f"--rev={rev}" for rev in revs]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"`dvc exp show --json` failed; run this from the repository "
                            f"root:\n{result.stderr.strip()[-1000:]}")
    return json.loads(result.stdout)


def runs_table(groups: dict, with_params=False) -> pd.DataFrame:
    """One row per run: which column it fed, its figures, and (for the CSV) all its params."""
    return pd.DataFrame([{"name": run.name, "column": label, "seed": run.seed,
                          **{k: round(v, 4) for k, v in run_values(run).items()},
                          **(run.params if with_params else {})}
                         for label, members in groups.items() for run in members])


def as_exp_show(runs: list) -> list:
    """The runs summarized, as `dvc exp show --json` records: experiments live in local git
    refs that a clone does not get, so the summary keeps what it was built from."""
    return [{"rev": run.name, "name": run.name, "data": {
        "params": {PARAMS_FILE: {"data": unflatten(run.params)}},
        "metrics": {METRICS_FILE: {"data": run.metrics}, LATENCY_FILE: {"data": run.timings}}}}
        for run in runs]


def unflatten(flat: dict) -> dict:
    tree = {}
    for dotted, value in flat.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return tree


def to_markdown(table: pd.DataFrame, long: pd.DataFrame, published: pd.DataFrame,
                intervals: pd.DataFrame, methods: pd.DataFrame, runs: pd.DataFrame) -> str:
    parts = ["# FP32 vs INT8 over tasks and seeds", "",
             table.to_markdown(disable_numparse=True), "",
             "- each task's headline metric on its validation split; `average` is the plain "
             "mean over the columns, as the GLUE score is, though their metrics differ",
             "- mean ± sample std (n - 1) over the runs that differ only by seed",
             "- drop = FP32 (PyTorch) - INT8 (ONNX Runtime), in points; positive = INT8 lost",
             *([f"- {PICKED_ON_SCORED_SPLIT} chose among models (accuracy-aware PTQ: which "
                "layers stay FP32) on the validation split it is scored on, so its score is "
                "optimistic and not ranked as best INT8; `-S data.holdout_rows=1000 -S "
                "ptq_accuracy.select_on=holdout` chooses on training rows no model learns"]
               if not long["ranked"].all() else []),
             ""]
    if not published.empty:
        parts += ["## Relative drop (% of FP32): ours beside the published ones",
                  "", published.astype(object).where(published.notna(), None).to_markdown(
                      floatfmt=".2f", missingval="–"), "",
                  "Their models differ from ours; compare drops, not scores.", ""]
    if not intervals.empty:
        parts += ["## Relative drop % with its 95 % interval over seeds", "",
                  intervals.to_markdown(disable_numparse=True), "",
                  "- mean [low, high]: Student t interval of the mean of the runs' own drops "
                  "(each against its own FP32 model); an interval holding 0 is a drop the "
                  "seeds cannot tell from none", ""]
    parts += ["## INT8 methods: score, size, speed and cost", "",
              methods.to_markdown(index=False, floatfmt=".2f"), "",
              "- ONNX Runtime models; drop_rel_% against FP32 PyTorch; latency: median ms per "
              "batch (reports/latency.json); cost_s: wall time to make the INT8 model from the "
              "FP32 one (calibration, training; evaluation excluded)",
              "- a row another configuration of the task already showed unchanged is left out",
              "", "## Runs", "", runs.to_markdown(index=False, floatfmt=".2f"), ""]
    return "\n".join(parts)


def main(argv=None):
    args = parse_args(argv)
    entries = [entry for path in args.input for entry in json.loads(Path(path).read_text())] \
        if args.input else exp_show(args.all_commits, args.rev)
    runs = runs_from_exp_show(entries)
    if args.exp:
        runs = [r for r in runs if any(fnmatch.fnmatch(r.name, p) for p in args.exp)]
    if not runs:
        raise PipelineError("no finished run with reports/metrics.json to summarize; run "
                            "`dvc repro` or `dvc exp run` first (or check --exp)")
    groups = group_runs(runs)
    table, long = summary_tables(groups)
    published = published_drops(load_references(), groups, long)
    runs_frame, methods = runs_table(groups), methods_table(groups)

    out = Path(args.out)
    write_text(out / "summary.md",
               to_markdown(table, long, published, drop_intervals(long), methods, runs_frame))
    write_text(out / "methods.csv", methods.to_csv(index=False))
    write_text(out / "summary.csv", long.to_csv(index=False))
    write_text(out / "runs.csv", runs_table(groups, with_params=True).to_csv(index=False))
    write_text(out / "exp_show.json", json.dumps(as_exp_show(runs), indent=1) + "\n")
    plot_summary(long, out / "summary.png")
    print(table.to_markdown(disable_numparse=True))
    print("\n" + methods.to_markdown(index=False, floatfmt=".2f"))
    print(f"\nwrote {out}/summary.md, summary.csv, methods.csv, runs.csv, summary.png and "
          f"exp_show.json (--input {out}/exp_show.json rebuilds this summary from it)")


if __name__ == "__main__":
    run_stage(main)
