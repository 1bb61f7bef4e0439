import json
import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, set_dotted, stage_env

from stages.lib.config.params import validate
from stages.lib.core.errors import PipelineError


def default_params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_default_params_are_valid():
    validate(default_params())


@pytest.mark.parametrize("dotted, value, message", [
    ("task", "squad2", "unknown task 'squad2'"),
    ("data.source", "s3", "`data.source` must be one of auto, packaged, hub, local"),
    ("quantization.preset", "fast", "`quantization.preset` must be one of mixed, performance"),
    ("device", "gpu", "`device` must be one of auto, cpu, cuda"),
    ("finetune.lr", -1e-5, "`finetune.lr` must be a positive number"),
    ("finetune.batch_size", 0, "`finetune.batch_size` must be a positive number"),
    ("data.max_train_samples", "all", "`data.max_train_samples` must be a positive number or null"),
    ("seed", 1.5, "`seed` must be an integer"),
    ("qat.warmup_ratio", 1.5, "`qat.warmup_ratio` must be a number in [0, 1)"),
])
def test_bad_values_are_refused_with_the_key_named(dotted, value, message):
    params = default_params()
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value
    with pytest.raises(PipelineError, match=re.escape(message)):
        validate(params)


def test_local_source_needs_an_existing_data_dir(tmp_path):
    params = default_params()
    params["data"]["source"] = "local"
    with pytest.raises(PipelineError, match="needs `data.dir`"):
        validate(params)
    params["data"]["dir"] = str(tmp_path / "nowhere")
    with pytest.raises(PipelineError, match="is not a folder"):
        validate(params)


def test_a_missing_section_is_named():
    params = default_params()
    del params["quantization"]
    with pytest.raises(PipelineError, match="lacks `quantization.preset`"):
        validate(params)


@pytest.mark.parametrize("dotted, value, message", [
    ("qa.doc_stride", 400, "`qa.doc_stride` (400) must be smaller than the context room of a "
                           "window (317 tokens: qa.max_seq_length - qa.max_question_length - 3 "
                           "special tokens)"),
    ("qa.max_answer_length", 0, "`qa.max_answer_length` must be a positive number"),
    ("qa.null_score_diff_threshold", "high", "`qa.null_score_diff_threshold` must be a number"),
    ("xnli.language", "klingon", "`xnli.language` must be one of ar, bg"),
    ("data.validation_articles", -1, "`data.validation_articles` must be null, a positive count"),
    ("data.validation_articles", "Normans", "`data.validation_articles` must be null, a positive"),
])
def test_bad_qa_and_xnli_values_are_refused(dotted, value, message):
    params = default_params()
    section, leaf = dotted.split(".")
    params[section][leaf] = value
    with pytest.raises(PipelineError, match=re.escape(message)):
        validate(params)


def test_squad_from_local_files_needs_no_data_dir(tmp_path):
    params = default_params()
    params["task"] = "squad"
    params["data"].update(source="local", train_file=str(tmp_path / "train.json"))
    with pytest.raises(PipelineError, match="data.train_file .*train.json' is not a file"):
        validate(params)
    (tmp_path / "train.json").write_text("{}")
    with pytest.raises(PipelineError, match="needs `data.dir`"):
        validate(params)  # nothing to evaluate on yet
    params["data"]["validation_articles"] = 1
    validate(params)


@pytest.mark.parametrize("dotted, value, message", [
    ("methods", [], "`methods` must be a non-empty list without repeats of qat, ptq_static, "
                    "ptq_accuracy, ptq_dynamic; got []"),
    ("methods", ["qat", "gptq"], "got ['qat', 'gptq']"),
    ("methods", ["qat", "qat"], "without repeats"),
    ("methods", "qat", "`methods` must be a non-empty list"),
    ("quantization.per_channel", "yes", "`quantization.per_channel` must be true or false"),
    ("quantization.subset_size", 0, "`quantization.subset_size` must be a positive number"),
    ("quantization.fp32_head", "yes", "`quantization.fp32_head` must be auto, true or false"),
    ("quantization.ignored_scope", "classifier", "`quantization.ignored_scope` must be a list"),
    ("quantization.ignored_scope", ["bert.(embeddings"], "entry 'bert.(embeddings' is not a "
                                                         "valid regex"),
    ("qat.distill.enabled", 1, "`qat.distill.enabled` must be true or false"),
    ("qat.distill.alpha", 1.5, "`qat.distill.alpha` must be a number in [0, 1]"),
    ("qat.distill.temperature", 0, "`qat.distill.temperature` must be a positive number"),
    ("ptq_static.fast_bias_correction", "on", "`ptq_static.fast_bias_correction` must be true"),
    ("ptq_dynamic.weight_type", "int4", "`ptq_dynamic.weight_type` must be one of int8, uint8"),
    ("ptq_accuracy.ranking_subset_size", 0, "`ptq_accuracy.ranking_subset_size` must be a "
                                            "positive number"),
    ("ptq_accuracy.max_iterations", 0, "`ptq_accuracy.max_iterations` must be a positive "
                                       "number or null"),
    ("ptq_accuracy.select_on", "test", "`ptq_accuracy.select_on` must be one of validation, "
                                       "holdout, train; got 'test'"),
    ("ptq_accuracy.select_on", "holdout", "`ptq_accuracy.select_on: holdout` picks layers on the "
                                          "training rows `data.holdout_rows` sets aside, and it "
                                          "is not set: add `-S data.holdout_rows=1000`"),
    ("data.holdout_rows", 0, "`data.holdout_rows` must be a positive number or null"),
    ("ptq_accuracy.select_rows", 0, "`ptq_accuracy.select_rows` must be a positive number"),
    ("quantization.overflow_fix", "on", "`quantization.overflow_fix` must be true or false"),
])
def test_bad_methods_and_scheme_are_refused(dotted, value, message):
    params = set_dotted(default_params(), {dotted: value})
    with pytest.raises(PipelineError, match=re.escape(message)):
        validate(params)


def test_any_subset_of_methods_in_any_order_is_valid():
    for methods in (["ptq_dynamic"], ["ptq_static", "qat"], ["qat", "ptq_static", "ptq_dynamic"]):
        validate(set_dotted(default_params(), {"methods": methods}))


@pytest.mark.parametrize("dotted, value, message", [
    ("benchmark.runtimes", ["tensorrt"], "`benchmark.runtimes` must be a non-empty list of "
                                         "pytorch, onnxruntime, openvino, got ['tensorrt']"),
    ("benchmark.runtimes", [], "(e.g. [onnxruntime, openvino])"),
    ("benchmark.openvino_precisions", ["fp16"], "`benchmark.openvino_precisions` must be a "
                                                "non-empty list of f32, bf16"),
    ("benchmark.batch_sizes", [1, 0], "`benchmark.batch_sizes` must be a non-empty list of "
                                      "positive integers or null"),
    ("benchmark.batch_sizes", [None], "`benchmark.batch_sizes` must be positive integers"),
    ("benchmark.seq_lengths", 128, "`benchmark.seq_lengths` must be a non-empty list"),
    ("benchmark.threads", [2.5], "`benchmark.threads` must be a non-empty list"),
    ("benchmark.warmup", -1, "`benchmark.warmup` must be an integer >= 0"),
    ("benchmark.repeats", 0, "`benchmark.repeats` must be a positive number"),
    ("benchmark.min_seconds", -1, "`benchmark.min_seconds` must be a positive number or null"),
    ("benchmark.profile", "no", "`benchmark.profile` must be true or false"),
])
def test_bad_benchmark_settings_are_refused(dotted, value, message):
    params = set_dotted(default_params(), {dotted: value})
    with pytest.raises(PipelineError, match=re.escape(message)):
        validate(params)


PARAMS_PROBE = """\
import json
from stages.lib.config.params import load_params
p = load_params()
json.dump({"qat.lr": p["qat"]["lr"], "finetune.lr": p["finetune"]["lr"], "seed": p["seed"],
           "data.max_train_samples": p["data"]["max_train_samples"], "methods": p["methods"],
           "task": p["task"], "model.name": p["model"]["name"]}, open("loaded.json", "w"))
"""


def test_values_set_with_dvc_exp_run_are_read_as_typed(workspace):
    """`dvc exp run -S` writes params.yaml back as YAML 1.2 (`lr: 5e-06`); every stage must read
    the numbers, nulls, lists and strings a user types there as such, not as strings."""
    (workspace / "probe.py").write_text(PARAMS_PROBE)
    (workspace / "dvc.yaml").write_text(
        "stages:\n  probe:\n    cmd: python probe.py\n    deps: [probe.py]\n"
        "    params: [qat.lr, finetune.lr, seed, data, methods, task, model]\n"
        "    outs: [{loaded.json: {cache: false}}]\n")
    subprocess.run(["git", "add", "-A"], cwd=workspace, check=True)
    subprocess.run(["git", "commit", "-qm", "probe"], cwd=workspace, check=True, env=stage_env())
    typed = {"qat.lr": "5e-6", "finetune.lr": "3e-05", "seed": "7",
             "data.max_train_samples": "null", "methods": "[ptq_static,qat]", "task": "rte",
             "model.name": "bert-base-uncased"}
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "exp", "run", *(f"-S{k}={v}" for k, v in typed.items())],
        cwd=workspace, capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert json.loads((workspace / "loaded.json").read_text()) == {
        "qat.lr": 5e-6, "finetune.lr": 3e-5, "seed": 7, "data.max_train_samples": None,
        "methods": ["ptq_static", "qat"], "task": "rte", "model.name": "bert-base-uncased"}
