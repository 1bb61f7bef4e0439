"""Class labels by name: a label written as its name, an alias, an index or transformers'
LABEL_<n> is the same class, whether it comes from a data file or a fine-tuned checkpoint's head.
"""
import re

import pandas as pd

from ..core.errors import PipelineError


def spelling(label) -> str:
    """A label name as compared: 'Not Equivalent', 'not-equivalent', 'not_equivalent' match."""
    return re.sub(r"[\s-]+", "_", str(label).strip().lower())


def label_index(task, value) -> int | None:
    """The class a label names: a label name or alias (case and spacing ignored), an
    index, or transformers' default name LABEL_<index>; None if none."""
    names = {spelling(name): i for i, name in enumerate(task.label_names)}
    names.update({spelling(alias): names[spelling(name)]
                  for alias, name in task.label_aliases.items()})
    key = spelling(value)
    index = re.fullmatch(r"(?:label_)?(\d+)", key)
    if key in names:
        return names[key]
    return int(index[1]) if index and int(index[1]) < len(task.label_names) else None


def labels_as_indices(frame: pd.DataFrame, task, where: str) -> pd.DataFrame:
    """Label names, their aliases or their indices, as class indices."""
    frame = frame.copy()
    indices = {value: label_index(task, value) for value in frame["label"].unique()}
    unknown = [value for value, index in indices.items() if index is None]
    if unknown:
        raise PipelineError(f"{where}: unknown label {unknown[0]!r}; {task.name} labels are "
                            f"{list(task.label_names)} (or their indices)")
    frame["label"] = frame["label"].map(indices).astype(int)
    return frame


def head_rows(config, task, name: str) -> list:
    """For a fine-tuned checkpoint's head: which of its output rows is each of the task's
    labels, matched by name (a checkpoint has its own label order: roberta-large-mnli's
    is contradiction, neutral, entailment)."""
    theirs = [str(config.id2label[i]) for i in range(config.num_labels)]
    ours = list(task.label_names)
    rows = [label_index(task, label) for label in theirs]
    if len(theirs) != len(ours) or None in rows or sorted(rows) != list(range(len(ours))):
        aliases = f"; aliases {task.label_aliases}" if task.label_aliases else ""
        raise PipelineError(
            f"cannot match the labels of {name}'s head, {theirs}, with task {task.name}'s "
            f"labels {ours} (matched by name, case ignored{aliases}): use a checkpoint "
            "fine-tuned on this task, or set model.finetuned=false to fine-tune a new head")
    if all(re.fullmatch(r"label_\d+", spelling(label)) for label in theirs):
        print(f"{name}'s labels are unnamed ({', '.join(theirs)}): taken in {task.name}'s "
              f"order, {', '.join(ours)}", flush=True)
    return [rows.index(i) for i in range(len(ours))]
