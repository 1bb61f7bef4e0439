"""The `own:` section (your own data set, task: own) and where its data comes from."""
from ..core.errors import PipelineError
from ..tasks.own import ALLOWED_METRICS, KINDS, OWN
from .checks import choice, require


def validate_own(params: dict) -> None:
    """The `own:` section; with task: own, also where its data comes from."""
    for key in ("hub_config", "hub_splits.train", "hub_splits.validation", "hub_splits.test"):
        require(params, f"own.{key}")
    choice(params, "own.kind", tuple(KINDS))
    columns = require(params, "own.text_columns")
    if (not isinstance(columns, list) or len(columns) not in (1, 2)
            or not all(isinstance(c, str) and c for c in columns)):
        raise PipelineError("`own.text_columns` must list one text column, or two for a pair "
                            f"(e.g. -S 'own.text_columns=[question,answer]'), got {columns!r}")
    if not isinstance(require(params, "own.label_column"), str):
        raise PipelineError("`own.label_column` must be a column name")
    labels, kind = require(params, "own.labels"), params["own"]["kind"]
    if labels is not None and (kind != "classification" or not isinstance(labels, list)
                               or len(labels) < 2 or len(set(map(str, labels))) != len(labels)):
        raise PipelineError("`own.labels` must be null (the training file's labels, sorted) or, "
                            "for classification, a list of two or more distinct label names, "
                            f"got {labels!r}")
    metrics = require(params, "own.metrics")
    allowed = ALLOWED_METRICS[kind]
    if metrics is not None and (not isinstance(metrics, list) or not metrics
                                or any(m not in allowed for m in metrics)):
        raise PipelineError(f"`own.metrics` for {kind} must be null or a list of "
                            f"{', '.join(allowed)} (the first is the headline), got {metrics!r}")
    if params["task"] != OWN:
        return
    data = params["data"]
    if data["source"] == "packaged":
        raise PipelineError("task=own reads your files (-S data.source=local with "
                            "data.train_file and data.validation_file) or a hub dataset "
                            "(-S data.source=hub with own.hub_dataset)")
    if data["source"] == "hub" and not require(params, "own.hub_dataset"):
        raise PipelineError("task=own with data.source=hub needs own.hub_dataset (a dataset id)")
