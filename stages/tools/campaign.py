"""The multi-task campaign (data/campaign.yaml): every task we hold data for, every INT8 method,
three seeds, as DVC experiments; and its table.

    python -m stages.tools.campaign show --data ../shared/data    # every run's command
    python -m stages.tools.campaign queue --data ../shared/data   # one queued run per task x seed
    python -m stages.tools.campaign queue --data ../shared/data --task cola --seed 42
    dvc queue start -j 1
    python -m stages.tools.campaign summarize   # reports/campaign/: FP32 and every INT8 method
                                                # per task, mean ± std over seeds

A task marked `held_back: <why>` (its FP32 model learns nothing yet, say) is left out of a
plain `show` / `queue`; `--task` runs it all the same. A run counts for the table when its
params are the campaign's for its task (whatever its name), so a run made by hand with the
same `-S` settings counts too. The runs a table was
built from are kept in reports/campaign/exp_show.json and counted again by the next
`summarize`: experiments are local git refs that a clone does not get.
"""
import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from stages.lib.config.params import load_params
from stages.lib.config.recipes import as_param
from stages.lib.core.errors import PipelineError
from stages.lib.core.runner import run_stage
from stages.lib.reporting.experiment_runs import flatten, runs_from_exp_show
from stages.lib.tasks.registry import TASKS
from stages.tools import summarize

CAMPAIGN_FILE, OUT = Path("data/campaign.yaml"), Path("reports/campaign")
DATA_PATHS = ("data.dir", "data.train_file", "data.validation_file", "data.test_file")


def load_campaign(path: Path = CAMPAIGN_FILE) -> dict:
    campaign = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    ok = (isinstance(campaign, dict) and set(campaign) == {"seeds", "common", "tasks", "sweep"}
          and all(isinstance(s, int) for s in campaign["seeds"] or [None])
          and good_grid(campaign["sweep"], {"epochs", "lr"})
          and all(isinstance(t, dict) and isinstance(t.get("params"), dict)
                  and set(t) <= {"swept", "params", "held_back", "sweep"}
                  and good_grid(t.get("sweep", {}), set())
                  for t in campaign["tasks"].values()))
    if not ok:
        raise PipelineError(f"{path} must hold `seeds` (integers), `common` (dotted params), "
                            "`tasks` (task -> {swept, params, held_back: why, if it is, sweep}) "
                            "and `sweep` (epochs: a list of integers, lr: a list of floats)")
    unknown = sorted(set(campaign["tasks"]) - set(TASKS))
    if unknown:
        raise PipelineError(f"{path}: unknown tasks {', '.join(unknown)}")
    return campaign


def good_grid(grid, required: set) -> bool:
    """A sweep grid: `epochs` a list of integers, `lr` a list of floats (a task's own grid may
    give either)."""
    def list_of(kind, key: str) -> bool:
        values = grid.get(key, [kind(1)])
        return isinstance(values, list) and all(isinstance(v, kind) for v in values or [None])
    return (isinstance(grid, dict) and required <= set(grid) <= {"epochs", "lr"}
            and list_of(int, "epochs") and list_of(float, "lr"))


def run_params(campaign: dict, task: str, seed: int, data_root: Path | None) -> dict:
    """The `-S` settings of one run; data paths resolved under `data_root` (None: left
    relative, as the campaign file writes them)."""
    settings = {"task": task, "seed": seed, **campaign["common"],
                **campaign["tasks"][task]["params"]}
    if data_root is not None:
        settings.update({key: str(Path(data_root).resolve() / value)
                         for key, value in settings.items() if key in DATA_PATHS})
    return settings


def run_name(task: str, seed: int) -> str:
    return f"{task}-s{seed}"


def command(campaign: dict, task: str, seed: int, data_root: Path) -> list:
    return ["dvc", "exp", "run", "--queue", "-n", run_name(task, seed),
            *[item for key, value in run_params(campaign, task, seed, data_root).items()
              for item in ("-S", f"{key}={as_param(value)}")]]


def belongs(run, campaign: dict) -> bool:
    """Whether a finished run has the campaign's settings for its task (data paths compared by
    their part under the data root, which differs from machine to machine)."""
    if run.task not in campaign["tasks"] or run.seed not in campaign["seeds"]:
        return False
    for key, value in run_params(campaign, run.task, run.seed, None).items():
        got = run.params.get(key)
        if key in DATA_PATHS and got is not None:
            got = "/".join(Path(got).parts[-len(Path(value).parts):])
        if got != value:
            return False
    return True


def campaign_runs(campaign: dict, out: Path) -> list:
    """The campaign's finished runs: the experiments of every commit here, then those kept
    beside the last table (a run met in both counts once)."""
    live = summarize.exp_show(all_commits=True, revs=[])
    saved = out / "exp_show.json"
    kept = json.loads(saved.read_text()) if saved.is_file() else []
    runs = [run for run in runs_from_exp_show([*live, *kept]) if belongs(run, campaign)]
    # A setting added since a run was made defaults to what the code did before it, so the
    # run counts as made with today's default: it groups with the runs made after.
    known = set().union(*(run.params for run in runs))
    defaults = {key: value for key, value in flatten(load_params()).items() if key in known}
    for run in runs:  # data paths as the campaign writes them: runs of other machines group
        relative = run_params(campaign, run.task, run.seed, None)
        run.params = {**defaults, **run.params,
                      **{key: relative[key] for key in DATA_PATHS if key in relative}}
    return runs


def write_table(runs: list, out: Path) -> None:
    if not runs:
        raise PipelineError("no finished campaign run yet: `python -m stages.tools.campaign "
                            "queue --data ../shared/data`, then `dvc queue start -j 1`")
    with tempfile.TemporaryDirectory() as tmp:
        entries = Path(tmp) / "exp_show.json"
        entries.write_text(json.dumps(summarize.as_exp_show(runs)))
        summarize.main(["--input", str(entries), "--out", str(out)])


def runnable_tasks(campaign: dict) -> list:
    """The tasks a plain `show`/`queue` runs: not those held back (named with --task, they
    run all the same)."""
    for task, entry in campaign["tasks"].items():
        if entry.get("held_back"):
            print(f"held back: {task} ({entry['held_back']}); --task {task} runs it anyway")
    return [task for task, entry in campaign["tasks"].items() if not entry.get("held_back")]


def tool_parser(prog: str, description: str, actions: tuple) -> argparse.ArgumentParser:
    """The arguments the campaign tools share: an action, --data and --campaign."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=actions)
    parser.add_argument("--data", type=Path, help="the folder holding glue/ and squad/")
    parser.add_argument("--campaign", type=Path, default=CAMPAIGN_FILE)
    return parser


def parse_tool_args(parser: argparse.ArgumentParser, argv, reading_action: str):
    """Parsed arguments; every action but the one that only reads runs needs --data."""
    args = parser.parse_args(argv)
    if args.action != reading_action and not (args.data and args.data.is_dir()):
        parser.error(f"{args.action} needs --data, the folder holding glue/ and squad/ "
                     "(e.g. ../shared/data)")
    return args


def check_tasks(campaign: dict, tasks: list | None, path: Path) -> None:
    unknown = sorted(set(tasks or []) - set(campaign["tasks"]))
    if unknown:
        raise PipelineError(f"not in {path}: {', '.join(unknown)}")


def parse_args(argv=None):
    parser = tool_parser("python -m stages.tools.campaign", __doc__,
                         ("show", "queue", "summarize"))
    parser.add_argument("--task", action="append", help="only this task (repeatable)")
    parser.add_argument("--seed", action="append", type=int, help="only this seed (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT,
                        help="the table's folder (summarize writes it, queue skips its runs)")
    return parse_tool_args(parser, argv, "summarize")


def main(argv=None):
    args = parse_args(argv)
    campaign = load_campaign(args.campaign)
    if args.action == "summarize":
        write_table(campaign_runs(campaign, args.out), args.out)
        return
    check_tasks(campaign, args.task, args.campaign)
    done = set()
    if args.action == "queue":  # a finished run, here or kept beside the table, is not redone
        done = {run_name(run.task, run.seed) for run in campaign_runs(campaign, args.out)}
    runs = [(task, seed) for task in args.task or runnable_tasks(campaign)
            for seed in args.seed or campaign["seeds"]]
    for task, seed in runs:
        if run_name(task, seed) in done:
            print(f"finished already: {run_name(task, seed)} (in {args.out}/ or this repo's "
                  "experiments)")
            continue
        queued = command(campaign, task, seed, args.data)
        print(shlex.join(queued), flush=True)
        if args.action == "queue":
            subprocess.run([sys.executable, "-m", *queued], check=True)


if __name__ == "__main__":
    run_stage(main)
