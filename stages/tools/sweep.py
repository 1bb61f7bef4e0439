"""The campaign's FP32 schedule sweeps: before a task's INT8 runs, fine-tuning alone at each
learning rate of data/campaign.yaml's `sweep`, scored on the validation split after every epoch,
so that the FP32 baseline the INT8 models are measured against is not an under-trained one.

    python -m stages.tools.sweep show --data ../shared/data    # the tasks not swept yet
    python -m stages.tools.sweep queue --data ../shared/data --task mrpc
    dvc queue start -j 1
    python -m stages.tools.sweep table    # reports/sweep/epochs.{csv,md}: score after each epoch

A sweep run is the campaign's run for the task's first seed with `finetune.epochs` and
`finetune.lr` from the grid (a task's own `sweep:` entry overrides the common one) and dynamic
PTQ as its only INT8 method: its FP32 model is bit for bit the one a campaign run on the chosen
schedule trains, and it runs the whole pipeline, the cheapest way to leave honest metrics in
`dvc exp show` (a run of `finetune` alone would carry its parent commit's metrics.json).
`table` reads the validation curve each finished run committed
(reports/curves/finetune_eval.csv) and keeps the rows it read in reports/sweep/epochs.csv,
since a clone does not get the experiments.
With a linear learning-rate decay, epoch 3 of 5 is not a 3-epoch run: read the table as "where
the curve stands", and pick the epochs and lr whose last epoch scores best.
"""
import io
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
from ruamel.yaml import YAML

from stages.lib.config.recipes import as_param
from stages.lib.core.errors import PipelineError
from stages.lib.core.runner import run_stage
from stages.tools.campaign import (
    check_tasks,
    load_campaign,
    parse_tool_args,
    run_params,
    tool_parser,
)

OUT = Path("reports/sweep")
CURVE = "reports/curves/finetune_eval.csv"
KEYS = ["task", "seed", "epochs", "lr"]  # one sweep run


def sweep_name(task: str, epochs: int, lr: float) -> str:
    return f"sweep-{task}-e{epochs}-lr{lr:.0e}".replace("e-0", "e-")


def sweep_settings(campaign: dict, task: str, data_root: Path) -> list:
    """(name, `-S` settings) of each run of the task's sweep."""
    grid = {**campaign["sweep"], **campaign["tasks"][task].get("sweep", {})}
    base = run_params(campaign, task, campaign["seeds"][0], data_root)
    return [(sweep_name(task, epochs, lr),
             {**base, "methods": ["ptq_dynamic"], "finetune.epochs": epochs, "finetune.lr": lr})
            for epochs in grid["epochs"] for lr in grid["lr"]]


def command(name: str, settings: dict) -> list:
    return ["dvc", "exp", "run", "--queue", "-n", name,
            *[item for key, value in settings.items()
              for item in ("-S", f"{key}={as_param(value)}")]]


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def finished_curves(repo: Path = Path(".")) -> pd.DataFrame:
    """One row per (sweep run, epoch) of the experiments in this repository's git refs."""
    refs = git("for-each-ref", "refs/exps", "--format=%(refname) %(objectname)", cwd=repo)
    frames = []
    for ref, commit in (line.split() for line in refs.splitlines()):
        name = ref.rsplit("/", 1)[-1]
        if not name.startswith("sweep-"):
            continue
        try:
            curve = pd.read_csv(io.StringIO(git("show", f"{commit}:{CURVE}", cwd=repo)))
        except subprocess.CalledProcessError:  # a run made before the stage wrote its curve
            continue
        # YAML 1.2 as load_params reads it: DVC writes `lr: 5e-05`, a string in YAML 1.1
        params = YAML(typ="safe", pure=True).load(git("show", f"{commit}:params.yaml", cwd=repo))
        frames.append(pd.DataFrame({
            "name": name, "task": params["task"], "seed": params["seed"],
            "epochs": params["finetune"]["epochs"], "lr": params["finetune"]["lr"],
            "epoch": curve["epoch"], "main": curve["main"]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def merged(live: pd.DataFrame, saved_path: Path) -> pd.DataFrame:
    """The runs found here, and those kept from before that are not here any more."""
    if not saved_path.is_file():
        return live
    saved = pd.read_csv(saved_path)
    if not live.empty:
        saved = saved[~saved["name"].isin(set(live["name"]))]
    return pd.concat([saved, live], ignore_index=True)


def epochs_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Score after each epoch, one row per run; `pick` marks each task's best last epoch."""
    table = curves.pivot_table(index=KEYS, columns="epoch", values="main").reset_index()
    table.columns = [f"epoch {c:g}" if isinstance(c, float) else c for c in table.columns]
    last = [c for c in table.columns if str(c).startswith("epoch ")]
    table["last"] = [row[last].dropna().iloc[-1] for _, row in table.iterrows()]
    best = table.groupby("task")["last"].transform("max")
    table["pick"] = (table["last"] == best).map({True: "<-", False: ""})
    return table.sort_values(["task", "lr", "epochs"]).reset_index(drop=True)


def write_table(curves: pd.DataFrame, out: Path) -> pd.DataFrame:
    if curves.empty:
        raise PipelineError("no finished sweep run: `python -m stages.tools.sweep queue --data "
                            "../shared/data`, then `dvc queue start -j 1`")
    out.mkdir(parents=True, exist_ok=True)
    curves.sort_values(["task", "lr", "epochs", "epoch"]).to_csv(out / "epochs.csv", index=False)
    table = epochs_table(curves)
    shown = table.assign(lr=table["lr"].map("{:g}".format))  # 5e-05, not a rounded 0.00
    shown = shown.astype(object).where(shown.notna(), None)  # a shorter run's blank epochs
    (out / "epochs.md").write_text(
        "# FP32 schedule sweeps: validation headline metric after each epoch\n\n"
        + shown.to_markdown(index=False, floatfmt=".2f",
                            disable_numparse=[KEYS.index("lr")]) + "\n\n"
        "- written by `python -m stages.tools.sweep table`; `<-`: the task's best last epoch\n"
        "- linear decay over the run's epochs: epoch 3 of 5 is not a 3-epoch run\n",
        encoding="utf-8")
    return table


def parse_args(argv=None):
    parser = tool_parser("python -m stages.tools.sweep", __doc__, ("show", "queue", "table"))
    parser.add_argument("--task", action="append",
                        help="this task (repeatable); default: the tasks marked `swept: false`")
    parser.add_argument("--out", type=Path, default=OUT)
    return parse_tool_args(parser, argv, "table")


def main(argv=None):
    args = parse_args(argv)
    campaign = load_campaign(args.campaign)
    if args.action == "table":
        print(write_table(merged(finished_curves(), args.out / "epochs.csv"), args.out)
              .to_string(index=False))
        return
    check_tasks(campaign, args.task, args.campaign)
    tasks = args.task or [task for task, entry in campaign["tasks"].items()
                          if not entry.get("swept") and not entry.get("held_back")]
    for task in tasks:
        for name, settings in sweep_settings(campaign, task, args.data):
            queued = command(name, settings)
            print(shlex.join(queued), flush=True)
            if args.action == "queue":
                subprocess.run([sys.executable, "-m", *queued], check=True)


if __name__ == "__main__":
    run_stage(main)
