"""Your own data set (`task: own`): CSV, TSV, JSON Lines or Parquet files, or a hub dataset,
read into the prepared layout (text_a, text_b, label), with the label names of a
classification task taken from the training split unless the params list them.
"""
import csv
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError
from ..tasks.own import needs_label_names
from ..tasks.registry import Task
from .rows import first_marked

FORMATS = (".csv", ".tsv", ".jsonl", ".parquet")


def _read_text_table(path: Path, separator: str) -> pd.DataFrame:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel) is fine
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); "
                            "save it as UTF-8") from err
    if not text.strip():
        raise PipelineError(f"{path} is empty")
    header = next(csv.reader([text.splitlines()[0]], delimiter=separator))
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise PipelineError(f"{path}: the header names {repeated} more than once; rename them")
    # A TSV has no quoting (GLUE's files hold stray quotes); a CSV quotes as CSV does.
    quoting = csv.QUOTE_NONE if separator == "\t" else csv.QUOTE_MINIMAL
    try:
        frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig", quoting=quoting)
    except pd.errors.ParserError as err:
        raise PipelineError(f"{path} is not a well-formed {'TSV' if quoting else 'CSV'} file: "
                            f"{' '.join(str(err).split())}") from err
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")  # the header is line 1
    return frame


def read_table(path) -> pd.DataFrame:
    """Every column as it is in the file (text as str); rows indexed by file line where the
    format has lines."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PipelineError(f"{path} not found: set data.train_file / data.validation_file / "
                            "data.test_file to your files")
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise PipelineError(f"{path}: unknown format {suffix!r}; use {', '.join(FORMATS)}")
    if suffix in (".csv", ".tsv"):
        return _read_text_table(path, "," if suffix == ".csv" else "\t")
    try:
        frame = (pd.read_json(path, lines=True, dtype=False, encoding="utf-8")
                 if suffix == ".jsonl" else pd.read_parquet(path))
    except (ValueError, OSError) as err:
        raise PipelineError(f"{path} could not be read as {suffix[1:]}: {err}") from err
    if frame.empty:
        raise PipelineError(f"{path} is empty")
    if suffix == ".jsonl":
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="line")
    return frame


def select_columns(frame: pd.DataFrame, task: Task, where: str) -> pd.DataFrame:
    """text_a, text_b and label from the named columns; a missing one lists those there are."""
    wanted = [*task.text_fields, task.glue_label]
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise PipelineError(f"{where} has no column(s) {missing}; its columns are "
                            f"{list(map(str, frame.columns))} (set own.text_columns and "
                            "own.label_column)")
    pair = len(task.text_fields) == 2
    return pd.DataFrame({"text_a": frame[task.text_fields[0]].astype(str),
                         "text_b": frame[task.text_fields[1]].astype(str) if pair else None,
                         "label": frame[task.glue_label]}, index=frame.index)


def label_names(train: pd.DataFrame, task: Task) -> tuple:
    """The params' label list, else the training split's labels sorted (as numbers when they
    all are: 2 before 10)."""
    if task.label_names:
        return task.label_names
    seen = sorted({str(value).strip() for value in train["label"]})
    if all(name.lstrip("-").isdigit() for name in seen):
        seen.sort(key=int)
    if len(seen) < 2:
        raise PipelineError(f"the training split has {len(seen)} label value(s) ({seen}); a "
                            "classifier needs two at least (or set own.kind: regression)")
    return tuple(seen)


def check_seen_labels(frame: pd.DataFrame, names: tuple, where: str) -> None:
    unseen = ~frame["label"].map(lambda value: str(value).strip()).isin(names)
    if unseen.any():
        at, place = first_marked(frame, unseen)
        raise PipelineError(f"{where}, {place}: label {frame['label'][at]!r} never appears in "
                            f"the training split (labels: {list(names)}); fix it, or list every "
                            "label in own.labels")


def load_own_files(task: Task, data: dict) -> dict:
    """data.train_file, data.validation_file and, if set, data.test_file."""
    splits = {}
    for split in ("train", "validation", "test"):
        path = data.get(f"{split}_file")
        if path:
            splits[split] = select_columns(read_table(path), task, str(path))
    return splits


def load_own_hub(task: Task, own: dict) -> dict:
    """own.hub_dataset (with own.hub_config) from the Hugging Face hub, its splits named by
    own.hub_splits."""
    import datasets
    try:
        loaded = datasets.load_dataset(own["hub_dataset"], own["hub_config"])
    except Exception as err:  # offline, unknown name, auth: all need the same advice
        raise PipelineError(f"could not load {own['hub_dataset']} from the Hugging Face hub: "
                            f"{type(err).__name__}: {str(err)[:300]}\nWithout internet use "
                            "-S data.source=local with data.train_file and "
                            "data.validation_file") from err
    splits = {}
    for split, name in own["hub_splits"].items():
        if name is None:
            continue
        if name not in loaded:
            raise PipelineError(f"{own['hub_dataset']} has no split {name!r} (own.hub_splits."
                                f"{split}); it has {list(loaded)}")
        splits[split] = select_columns(loaded[name].to_pandas(), task,
                                       f"{own['hub_dataset']}/{name}")
    return splits


def load_own(task: Task, data: dict, own: dict) -> tuple:
    """(the task with its label names and evaluation splits, its raw splits)."""
    raw = load_own_hub(task, own) if data["source"] == "hub" else load_own_files(task, data)
    for split in ("train", "validation"):
        if split not in raw:
            raise PipelineError(f"your data set needs a {split} split: set data.{split}_file "
                                f"(or own.hub_splits.{split})")
    names = None
    if needs_label_names(task):
        names = label_names(raw["train"], task)
        for split in raw:
            check_seen_labels(raw[split], names, f"{split} ({data.get(f'{split}_file') or 'hub'})")
    splits = ("validation", "test") if "test" in raw else ("validation",)
    return replace(task, label_names=names, eval_splits=splits), raw
