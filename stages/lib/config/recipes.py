"""Recipes: one file per published result the pipeline can make again (data/recipes/).

A recipe names the rows of data/references.csv it reproduces and holds every param that
differs from params.yaml's defaults, as `dvc exp run -S` overrides. `python -m
stages.tools.recipe run NAME` runs it as a DVC experiment named after it, with `recipe: NAME`
among its params, so that the report puts the recipe's published rows first and lists any
setting the run changed.
"""
from pathlib import Path

import yaml
from ruamel.yaml import YAML

from ..core.errors import PipelineError
from ..core.paths import RECIPES_DIR
from .checks import require

FIELDS = {"title", "reproduces", "params", "seeds", "notes"}
ROW_KEYS = ("source", "model", "task", "method")  # how a recipe names its references.csv rows


def recipe_names(folder: Path = RECIPES_DIR) -> list:
    return sorted(path.stem for path in Path(folder).glob("*.yaml"))


def load_recipe(name: str, folder: Path = RECIPES_DIR) -> dict:
    path = Path(folder) / f"{name}.yaml"
    if not path.is_file():
        raise PipelineError(f"no recipe {name!r} in {folder}/; recipes: "
                            f"{', '.join(recipe_names(folder)) or 'none'}")
    recipe = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    if not isinstance(recipe, dict) or not {"reproduces", "params"} <= set(recipe) \
            or set(recipe) - FIELDS or set(recipe["reproduces"]) != set(ROW_KEYS):
        raise PipelineError(f"{path} must hold `reproduces` ({', '.join(ROW_KEYS)}) and `params` "
                            f"(dotted keys), and nothing but {', '.join(sorted(FIELDS))}")
    return {**recipe, "name": name}


def changes(recipe: dict, params: dict) -> list:
    """(key, the recipe's value, this run's value) where the run differs from the recipe."""
    ours = {key: require(params, key) for key in recipe["params"]}
    return [(key, value, ours[key]) for key, value in recipe["params"].items()
            if ours[key] != value]


def as_param(value) -> str:
    """A param value as `dvc exp run -S` takes it: YAML (`false`, `5.0e-06`, `[a, b]`)."""
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip() \
        .removesuffix("...").strip()


def overrides(recipe: dict, extra: tuple = ()) -> list:
    """`-S key=value` arguments for `dvc exp run`: the recipe's params, its name, then `extra`
    (a user's own `key=value` changes, which win)."""
    args = [f"recipe={recipe['name']}",
            *(f"{key}={as_param(value)}" for key, value in recipe["params"].items())]
    return [item for arg in [*args, *extra] for item in ("-S", arg)]


def check_recipe_param(params: dict) -> None:
    """`recipe` names a recipe whose task is this run's task (or is null)."""
    name = params.get("recipe")
    if name is None:
        return
    recipe = load_recipe(str(name))
    task = recipe["params"].get("task")
    if task is not None and task != params["task"]:
        raise PipelineError(f"recipe {name} is for task {task}, but task is {params['task']}; "
                            f"run it with: python -m stages.tools.recipe run {name}")
