"""Run a published result's recipe (data/recipes/NAME.yaml) as a DVC experiment.

    python -m stages.tools.recipe list                     # recipes and the rows they redo
    python -m stages.tools.recipe show NAME                # its settings and the command
    python -m stages.tools.recipe run NAME                 # dvc exp run -n NAME -S ... (all)
    python -m stages.tools.recipe run NAME --queue         # queued; `dvc queue start` runs it
    python -m stages.tools.recipe run NAME --seeds         # one queued run per recipe seed
    python -m stages.tools.recipe run NAME -S data.max_train_samples=2000   # your changes win

A recipe is plain `-S` overrides, so `dvc repro`, `dvc exp show`, `dvc exp run -S` and the
queue work as for any experiment; the report lists every setting a run changed from its
recipe.
"""
import argparse
import subprocess
import sys

from stages.lib.config.recipes import load_recipe, overrides, recipe_names
from stages.lib.core.runner import run_stage
from stages.lib.reporting.references import load_references, recipe_rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.recipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("list", "show", "run"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("-S", "--set-param", dest="extra", action="append", default=[],
                        metavar="KEY=VALUE", help="a change of your own, after the recipe's")
    parser.add_argument("--queue", action="store_true", help="queue instead of running now")
    parser.add_argument("--seeds", action="store_true",
                        help="queue one run per seed the recipe lists (published means)")
    args = parser.parse_args(argv)
    if args.action != "list" and not args.name:
        parser.error(f"{args.action} needs a recipe name; see `list`")
    return args


def commands(recipe: dict, args) -> list:
    """One `dvc exp run` per run: the recipe once, or once per seed with --seeds."""
    seeds = (recipe.get("seeds") or [None]) if args.seeds else [None]
    runs = []
    for seed in seeds:
        name = recipe["name"].replace("_", "-") + (f"-s{seed}" if seed is not None else "")
        extra = [*args.extra, *([f"seed={seed}"] if seed is not None else [])]
        queue = ["--queue"] if args.queue or args.seeds else []
        runs.append(["dvc", "exp", "run", "-n", name, *queue, *overrides(recipe, extra)])
    return runs


def describe(recipe: dict) -> str:
    rows = recipe_rows(load_references(), recipe)
    lines = [f"{recipe['name']}: {recipe.get('title', '')}",
             *(f"  reproduces {r.source} · {r.model} · {r.task} {r.metric}: FP32 {r.fp32} -> "
               f"INT8 {r.int8} ({r.method})" for r in rows.itertuples())]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.action == "list":
        print("\n".join(describe(load_recipe(name)) for name in recipe_names()))
        return
    recipe = load_recipe(args.name)
    if args.action == "show":
        print(describe(recipe))
        print("\n".join(f"  {key}: {value}" for key, value in recipe["params"].items()))
        if recipe.get("notes"):
            print(recipe["notes"].strip())
        print("\n".join(" ".join(command) for command in commands(recipe, args)))
        return
    for command in commands(recipe, args):
        print(" ".join(command), flush=True)
        done = subprocess.run([sys.executable, "-m", *command], check=False)
        if done.returncode:
            sys.exit(done.returncode)


if __name__ == "__main__":
    run_stage(main)
