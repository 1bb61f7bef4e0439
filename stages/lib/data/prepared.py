"""The prepared data on disk: `<split>.jsonl` per split and `task.json`, written by the
download stage and read by every later one."""
import json
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError
from ..core.paths import DATA_DIR
from ..tasks.own import OWN, definition, from_definition
from ..tasks.registry import Task, get_task

HOLDOUT = "holdout"  # the training rows data.holdout_rows sets aside: no model trains on them


def write_prepared(splits: dict, task: Task, source: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, frame in splits.items():
        frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    info = {"task": task.name, "source": source, "label_names": task.label_names,
            "rows": {split: len(frame) for split, frame in splits.items()}}
    if task.name == OWN:  # its definition travels with the data
        info["own"] = definition(task)
    (folder / "task.json").write_text(json.dumps(info, indent=2) + "\n")


def read_split(folder: Path, split: str) -> pd.DataFrame:
    path = Path(folder) / f"{split}.jsonl"
    if not path.is_file():
        raise PipelineError(f"{path} not found; run `dvc repro download` first")
    return pd.read_json(path, orient="records", lines=True, dtype=False)


def check_prepared_task(folder: Path, task: Task) -> None:
    info = json.loads((Path(folder) / "task.json").read_text())
    if info["task"] != task.name:
        raise PipelineError(f"{folder} holds {info['task']!r} data but task={task.name!r}; "
                            "run `dvc repro` so the download stage refreshes it")


def load_task(params: dict, folder: Path = DATA_DIR) -> Task:
    """The task the params name; your own data set's as the download stage defined it."""
    if params["task"] != OWN:
        return get_task(params["task"])
    path = Path(folder) / "task.json"
    if not path.is_file():
        raise PipelineError(f"{path} not found; run `dvc repro download` first")
    info = json.loads(path.read_text())
    if info["task"] != OWN:
        raise PipelineError(f"{folder} holds {info['task']!r} data but task=own; run `dvc "
                            "repro` so the download stage refreshes it")
    return from_definition(info["own"])
