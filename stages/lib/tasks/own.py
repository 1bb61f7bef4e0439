"""Your own data set as a task (`task: own`): text column(s), a label column, a kind and
metrics, from the `own:` params; the label names come from the training file unless given.

The download stage writes the finished definition (with its label names and splits) into
data/prepared/task.json, and every later stage reads it from there, as the predict tool reads
it from an export folder's model_info.json: what a model was trained on travels with it.
"""
from .kinds import CLASSIFICATION, REGRESSION
from .registry import Task, get_task

OWN = "own"
KINDS = {"classification": CLASSIFICATION, "regression": REGRESSION}
DEFAULT_METRICS = {"classification": ("accuracy", "macro_f1"),
                   "regression": ("pearson", "spearman")}
ALLOWED_METRICS = {"classification": ("accuracy", "macro_f1", "mcc"),  # own.metrics may name
                   "regression": ("pearson", "spearman")}


def own_task(spec: dict, label_names=None, eval_splits=("validation",)) -> Task:
    """`spec`: the `own:` params (or the definition task.json keeps)."""
    kind = spec["kind"]
    labels = label_names or spec.get("labels")
    return Task(OWN, text_fields=tuple(spec["text_columns"]),
                label_names=tuple(str(label) for label in labels) if labels else None,
                metrics=tuple(spec.get("metrics") or DEFAULT_METRICS[kind]),
                eval_splits=tuple(eval_splits), kind=KINDS[kind], layout="files",
                glue_label=spec["label_column"])


def definition(task: Task) -> dict:
    """What task.json and model_info.json keep of an own task, for own_task() to rebuild it."""
    return {"kind": task.kind.name, "text_columns": list(task.text_fields),
            "label_column": task.glue_label, "labels": list(task.label_names or []) or None,
            "metrics": list(task.metrics), "eval_splits": list(task.eval_splits)}


def from_definition(saved: dict) -> Task:
    return own_task(saved, eval_splits=saved["eval_splits"])


def needs_label_names(task: Task) -> bool:
    """Classification: label names from the params or the training split; regression: none."""
    return task.kind is CLASSIFICATION


def main_metric(spec: dict) -> str:
    """The headline metric an own task with these params reports."""
    return (spec.get("metrics") or DEFAULT_METRICS[spec["kind"]])[0]


def named_task(params: dict) -> Task:
    """The task the params name, before any data is read (your own: no label names yet)."""
    return own_task(params["own"]) if params["task"] == OWN else get_task(params["task"])


def headline_metric(task_name: str, flat_params: dict) -> str:
    """The headline metric of a run, from its params as `dvc exp show` flattens them."""
    if task_name != OWN:
        return get_task(task_name).main_metric
    return main_metric({"kind": flat_params.get("own.kind", "classification"),
                        "metrics": flat_params.get("own.metrics")})
