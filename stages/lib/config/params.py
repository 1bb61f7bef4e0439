"""Loading params.yaml and refusing bad values before any work starts."""
import difflib
import re
from pathlib import Path

from ruamel.yaml import YAML, YAMLError

from ..core.errors import PipelineError
from ..core.paths import PARAMS_FILE
from ..data.layouts import local_hint, resolve_source
from ..modeling.device import require_gpu_if_asked
from ..modeling.train_settings import SECTION_KEYS as TRAINING_KEYS
from ..quantization.methods import METHODS
from ..tasks.own import OWN, named_task
from ..tasks.qa import QASettings
from .checks import boolean, choice, list_of, positive, require
from .own_params import validate_own
from .recipes import check_recipe_param

DATA_SOURCES = ("auto", "packaged", "hub", "local")
PRESETS = ("mixed", "performance")
DEVICES = ("auto", "cpu", "cuda")
DROP_KINDS = ("relative", "absolute")
WEIGHT_TYPES = ("int8", "uint8")
SELECT_ON = ("validation", "holdout", "train")  # the rows ptq_accuracy picks its FP32 layers on
RUNTIMES = ("pytorch", "onnxruntime", "openvino")  # what inference/engines.py can build
FLOAT_PRECISIONS = ("f32", "bf16")  # OpenVINO's INFERENCE_PRECISION_HINT values we offer
MIXED_PRECISIONS = (None, "bf16", "fp16")
# Per-channel QuantizeLinear/DequantizeLinear (NNCF's INT8 weights) need opset 13; the
# TorchScript exporter, the one that handles NNCF's Q/DQ, writes up to opset 20.
OPSETS = range(13, 21)
# Every key params.yaml may hold: `dvc exp run -S` adds a mistyped key silently, so an unknown
# key is refused rather than ignored. A section maps to its keys; None marks a leaf.
SCHEMA = {
    "task": None, "seed": None, "recipe": None, "device": None, "methods": None,
    "model": {"name": None, "trust_remote_code": None, "finetuned": None},
    "data": dict.fromkeys(("source", "dir", "train_file", "validation_file", "test_file",
                           "validation_articles", "max_train_samples", "max_eval_samples",
                           "holdout_rows", "max_seq_length")),
    "own": {**dict.fromkeys(("kind", "text_columns", "label_column", "labels", "metrics",
                             "hub_dataset", "hub_config")),
            "hub_splits": dict.fromkeys(("train", "validation", "test"))},
    "qa": dict.fromkeys(("max_seq_length", "doc_stride", "max_question_length",
                         "max_answer_length", "n_best_size", "null_score_diff_threshold")),
    "xnli": {"language": None, "train_language": None},
    "finetune": dict.fromkeys(TRAINING_KEYS),
    "train": dict.fromkeys(("num_processes", "mixed_precision", "checkpoint_every",
                            "abort_grad_norm")),
    "quantization": dict.fromkeys(("preset", "per_channel", "fp32_head", "ignored_scope",
                                   "subset_size", "overflow_fix")),
    "qat": {**dict.fromkeys(TRAINING_KEYS),
            "distill": dict.fromkeys(("enabled", "alpha", "temperature"))},
    "ptq_static": {"fast_bias_correction": None},
    "ptq_accuracy": dict.fromkeys(("bias_correction", "select_on", "select_rows",
                                   "ranking_subset_size", "max_iterations")),
    "ptq_dynamic": {"weight_type": None},
    "evaluate": {"batch_size": None},
    "export": {"opset": None, "parity_tolerance": None, "fuse": None},
    "report": dict.fromkeys(("max_drop", "drop_kind", "fail_on_drop")),
    "benchmark": dict.fromkeys(("runtimes", "openvino_precisions", "batch_sizes", "seq_lengths",
                                "threads", "warmup", "repeats", "min_seconds", "profile")),
    "latency": dict.fromkeys(("batch_size", "seq_length", "threads", "warmup", "repeats")),
}
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur",
                  "vi", "zh")


def load_params(path=PARAMS_FILE) -> dict:
    if not Path(path).is_file():
        raise PipelineError(f"{path} not found; run the stages from the repository root")
    try:
        # YAML 1.2, as DVC writes `-S` values back: PyYAML (1.1) reads `lr: 5e-06` as a string
        params = YAML(typ="safe", pure=True).load(Path(path).read_text(encoding="utf-8"))
    except YAMLError as err:
        raise PipelineError(f"{path} is not valid YAML: {err}") from None
    validate(params)
    return params


def training_identity(params: dict, section: str) -> dict:
    """The params a training stage's result depends on: a checkpoint is resumed only under
    the same ones."""
    keys = ("task", "seed", "model", "data", "qa", "xnli", section)
    keys += ("quantization",) if section == "qat" else ()
    return {"stage": section, **{key: params[key] for key in keys},
            "train": {k: v for k, v in params["train"].items() if k != "checkpoint_every"}}


def check_known_keys(tree, schema=SCHEMA, prefix="") -> None:
    if not isinstance(tree, dict):
        raise PipelineError(f"`{prefix.rstrip('.') or 'params.yaml'}` must be a mapping of keys, "
                            f"got {tree!r}")
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(str(key), [str(k) for k in schema], n=1)
            hint = f"; did you mean `{prefix}{close[0]}`?" if close else ""
            raise PipelineError(f"unknown param `{dotted}`{hint} (a mistyped `-S` key adds a "
                                "new one; remove it from params.yaml; see docs/params.md)")
        if schema[key] is not None:
            check_known_keys(value, schema[key], f"{dotted}.")


def validate(params: dict) -> None:
    check_known_keys(params)
    validate_own(params)
    task = named_task(params)
    choice(params, "device", DEVICES)
    boolean(params, "model.trust_remote_code")
    boolean(params, "model.finetuned")
    choice(params, "data.source", DATA_SOURCES)
    # auto becomes the source it means, so that every stage and report names the real one
    params["data"]["source"] = resolve_source(params["data"], params["task"])
    _validate_quantization(params)
    _validate_benchmark(params)
    for key in ("finetune.group_by_length", "qat.group_by_length"):
        boolean(params, key)
    if not isinstance(require(params, "seed"), int):
        raise PipelineError(f"`seed` must be an integer, got {params['seed']!r}")
    for key in ("data.max_train_samples", "data.max_eval_samples", "data.holdout_rows",
                "latency.seq_length", "latency.threads"):
        positive(params, key, int, allow_none=True)
    for key in ("data.max_seq_length", "finetune.batch_size", "qat.batch_size",
                "evaluate.batch_size", "latency.batch_size", "latency.repeats", "export.opset",
                "finetune.log_every", "qat.log_every", "qa.max_seq_length", "qa.doc_stride",
                "qa.max_question_length", "qa.max_answer_length", "qa.n_best_size"):
        positive(params, key, int)
    for key in ("finetune.epochs", "qat.epochs", "finetune.lr", "qat.lr", "finetune.max_grad_norm",
                "qat.max_grad_norm"):
        positive(params, key)
    positive(params, "export.parity_tolerance")
    boolean(params, "export.fuse")
    if params["export"]["opset"] not in OPSETS:
        raise PipelineError(f"`export.opset` must be {OPSETS.start} to {OPSETS.stop - 1} "
                            f"(INT8 Q/DQ per channel needs 13; the exporter writes up to "
                            f"{OPSETS.stop - 1}), got {params['export']['opset']!r}")
    for section in ("finetune", "qat"):
        for key in ("weight_decay", "warmup_ratio"):
            value = require(params, f"{section}.{key}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise PipelineError(f"`{section}.{key}` must be a number in [0, 1), got {value!r}")
    threshold = require(params, "qa.null_score_diff_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise PipelineError(f"`qa.null_score_diff_threshold` must be a number, got {threshold!r}")
    QASettings.from_params(params["qa"]).check_room()
    choice(params, "report.drop_kind", DROP_KINDS)
    max_drop = require(params, "report.max_drop")
    if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or max_drop < 0:
        raise PipelineError(f"`report.max_drop` must be a number >= 0 (points, or % of FP32 "
                            f"with drop_kind: relative), got {max_drop!r}")
    boolean(params, "report.fail_on_drop")
    for key in ("xnli.language", "xnli.train_language"):
        choice(params, key, XNLI_LANGUAGES)
    _validate_training(params)
    _validate_local_data(params["data"], task)
    check_recipe_param(params)


def _validate_training(params: dict) -> None:
    import torch
    processes = require(params, "train.num_processes")
    positive(params, "train.num_processes", int)
    choice(params, "train.mixed_precision", MIXED_PRECISIONS)
    positive(params, "train.checkpoint_every", int, allow_none=True)
    positive(params, "train.abort_grad_norm", allow_none=True)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    require_gpu_if_asked(params["device"])
    on_gpu = params["device"] != "cpu" and gpus > 0
    if params["train"]["mixed_precision"] == "fp16" and not on_gpu:
        raise PipelineError("train.mixed_precision=fp16 needs a CUDA GPU (and device auto or "
                            "cuda); on CPU use bf16 or null")
    if on_gpu and processes > gpus:
        raise PipelineError(f"train.num_processes={processes} but {gpus} GPU(s) are visible: one "
                            "process per GPU; lower it, or use -S device=cpu for CPU processes")
    for section in ("finetune", "qat"):
        batch = require(params, f"{section}.batch_size")
        if isinstance(batch, int) and batch < processes:
            raise PipelineError(f"`{section}.batch_size` ({batch}) is the global batch, shared "
                                f"by train.num_processes={processes} processes: it must be at "
                                "least the process count")


def _validate_quantization(params: dict) -> None:
    methods = require(params, "methods")
    if (not isinstance(methods, list) or not methods or len(set(map(str, methods))) != len(methods)
            or any(m not in METHODS for m in methods)):
        raise PipelineError(f"`methods` must be a non-empty list without repeats of "
                            f"{', '.join(METHODS)}; got {methods!r} "
                            f"(e.g. dvc exp run -S 'methods=[qat,ptq_dynamic]')")
    choice(params, "quantization.preset", PRESETS)
    boolean(params, "quantization.per_channel")
    head = require(params, "quantization.fp32_head")
    if head != "auto" and not isinstance(head, bool):
        raise PipelineError(f"`quantization.fp32_head` must be auto, true or false, got {head!r}")
    positive(params, "quantization.subset_size", int)
    boolean(params, "quantization.overflow_fix")
    scope = require(params, "quantization.ignored_scope")
    if not isinstance(scope, list) or not all(isinstance(p, str) and p for p in scope):
        raise PipelineError("`quantization.ignored_scope` must be a list of module names or "
                            f"regexes (e.g. [classifier]), got {scope!r}")
    for pattern in scope:
        try:
            re.compile(pattern)
        except re.error as error:
            raise PipelineError(f"`quantization.ignored_scope` entry {pattern!r} is not a valid "
                                f"regex ({error})") from None
    boolean(params, "qat.distill.enabled")
    alpha = require(params, "qat.distill.alpha")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise PipelineError(f"`qat.distill.alpha` must be a number in [0, 1] (the weight of the "
                            f"distillation loss), got {alpha!r}")
    positive(params, "qat.distill.temperature")
    boolean(params, "ptq_static.fast_bias_correction")
    boolean(params, "ptq_accuracy.bias_correction")
    if choice(params, "ptq_accuracy.select_on", SELECT_ON) == "holdout" \
            and not params["data"].get("holdout_rows"):
        raise PipelineError("`ptq_accuracy.select_on: holdout` picks layers on the training rows "
                            "`data.holdout_rows` sets aside, and it is not set: add "
                            "`-S data.holdout_rows=1000`")
    positive(params, "ptq_accuracy.select_rows", int)
    positive(params, "ptq_accuracy.ranking_subset_size", int)
    positive(params, "ptq_accuracy.max_iterations", int, allow_none=True)
    choice(params, "ptq_dynamic.weight_type", WEIGHT_TYPES)


def _validate_benchmark(params: dict) -> None:
    list_of(params, "benchmark.runtimes", RUNTIMES, example="[onnxruntime, openvino]")
    list_of(params, "benchmark.openvino_precisions", FLOAT_PRECISIONS, example="[f32, bf16]")
    for key, example in (("batch_sizes", "[1, 32]"), ("seq_lengths", "[128, null]"),
                         ("threads", "[1, null]")):
        list_of(params, f"benchmark.{key}", example=example)
    if None in params["benchmark"]["batch_sizes"]:
        raise PipelineError("`benchmark.batch_sizes` must be positive integers, got "
                            f"{params['benchmark']['batch_sizes']!r}")
    positive(params, "benchmark.repeats", int)
    positive(params, "benchmark.min_seconds", allow_none=True)
    warmup = require(params, "benchmark.warmup")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise PipelineError(f"`benchmark.warmup` must be an integer >= 0, got {warmup!r}")
    boolean(params, "benchmark.profile")


def _validate_local_data(data: dict, task) -> None:
    for key in ("train_file", "validation_file", "test_file", "validation_articles"):
        require({"data": data}, f"data.{key}")
    held_out = data["validation_articles"]
    count = isinstance(held_out, int) and not isinstance(held_out, bool) and held_out > 0
    titles = isinstance(held_out, list) and held_out and all(isinstance(t, str) for t in held_out)
    if held_out is not None and not (count or titles):
        raise PipelineError("`data.validation_articles` must be null, a positive count or a list "
                            f"of article titles, got {held_out!r}")
    if data["source"] != "local":
        return
    for key in ("train_file", "validation_file", "test_file"):
        if data[key] and not Path(data[key]).expanduser().is_file():
            raise PipelineError(f"data.{key} {data[key]!r} is not a file")
    data_dir = data.get("dir")
    if task.name == OWN:
        if not (data["train_file"] and data["validation_file"]):
            raise PipelineError("task=own with data.source=local needs data.train_file and "
                                "data.validation_file (CSV, TSV, JSON Lines or Parquet)")
        return
    has_files = (task.layout == "squad" and data["train_file"]
                 and (data["validation_file"] or held_out))
    if not data_dir and not has_files:
        raise PipelineError(f"data.source=local needs `data.dir`: {local_hint(task)}")
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise PipelineError(f"data.dir {data_dir!r} is not a folder: {local_hint(task)}")
