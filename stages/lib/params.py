"""Loading params.yaml and refusing bad values before any work starts."""
from pathlib import Path

import yaml

from .errors import PipelineError
from .tasks import get_task

PARAMS_FILE = Path("params.yaml")
DATA_SOURCES = ("packaged", "hub", "local")
PRESETS = ("mixed", "performance")
DEVICES = ("auto", "cpu", "cuda")


def load_params(path=PARAMS_FILE) -> dict:
    if not Path(path).is_file():
        raise PipelineError(f"{path} not found; run the stages from the repository root")
    params = yaml.safe_load(Path(path).read_text())
    validate(params)
    return params


def _require(params, dotted):
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise PipelineError(f"params.yaml lacks `{dotted}`; add it (see README, params reference)")
        node = node[key]
    return node


def _positive(params, dotted, kind=(int, float), allow_none=False):
    value = _require(params, dotted)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        allowed = " or null" if allow_none else ""
        raise PipelineError(f"`{dotted}` must be a positive number{allowed}, got {value!r}")


def _choice(params, dotted, allowed):
    value = _require(params, dotted)
    if value not in allowed:
        raise PipelineError(f"`{dotted}` must be one of {', '.join(allowed)}; got {value!r}")


def validate(params: dict) -> None:
    get_task(_require(params, "task"))
    _choice(params, "device", DEVICES)
    _choice(params, "data.source", DATA_SOURCES)
    _choice(params, "qat.preset", PRESETS)
    if not isinstance(_require(params, "seed"), int):
        raise PipelineError(f"`seed` must be an integer, got {params['seed']!r}")
    for key in ("data.max_train_samples", "data.max_eval_samples", "latency.seq_length",
                "latency.threads"):
        _positive(params, key, int, allow_none=True)
    for key in ("data.max_seq_length", "finetune.batch_size", "qat.batch_size", "qat.subset_size",
                "evaluate.batch_size", "latency.batch_size", "latency.repeats", "export.opset",
                "finetune.log_every", "qat.log_every"):
        _positive(params, key, int)
    for key in ("finetune.epochs", "qat.epochs", "finetune.lr", "qat.lr", "finetune.max_grad_norm",
                "qat.max_grad_norm"):
        _positive(params, key)
    _positive(params, "export.parity_tolerance")
    for section in ("finetune", "qat"):
        for key in ("weight_decay", "warmup_ratio"):
            value = _require(params, f"{section}.{key}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise PipelineError(f"`{section}.{key}` must be a number in [0, 1), got {value!r}")
    if params["data"]["source"] == "local":
        data_dir = params["data"].get("dir")
        if not data_dir:
            raise PipelineError("data.source=local needs `data.dir`: the root of a glue_data/ "
                                "folder, e.g. -S data.dir=/path/to/glue_data")
        if not Path(data_dir).expanduser().is_dir():
            raise PipelineError(f"data.dir {data_dir!r} is not a folder; point it at the root "
                                "of a glue_data/ folder (holding SST-2/, MRPC/, ...)")
