"""The real `dvc repro` and `dvc exp run`, end to end, on a tiny model and a small MRPC slice."""
import json
import subprocess
import sys

import pandas as pd

from conftest import SHARED_DATA, needs_glue, run_stage, small_params, stage_env, write_params

SQUAD_FILE = SHARED_DATA / "squad" / "dev-v2.0-5-articles.json"

MODELS = ("fp32", "int8", "onnx_fp32", "onnx_int8")


def dvc(folder, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=folder, capture_output=True,
                            text=True, env=stage_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, env=stage_env())


@needs_glue
def test_dvc_repro_end_to_end_then_switch_task_with_exp_run(workspace, tiny_model_dir):
    write_params(workspace, small_params(tiny_model_dir))
    dvc(workspace, "repro")

    metrics = json.loads((workspace / "reports" / "metrics.json").read_text())
    assert set(metrics) == set(MODELS)
    for name in MODELS:
        assert {"f1", "accuracy", "main", "size_mb"} <= set(metrics[name])
        assert metrics[name]["main"] == metrics[name]["f1"]
    latency = json.loads((workspace / "reports" / "latency.json").read_text())
    assert all(latency[name]["latency_ms"] > 0 for name in MODELS)
    table = pd.read_csv(workspace / "reports" / "results.csv")
    assert table[["precision", "runtime"]].values.tolist() == [
        ["FP32", "PyTorch"], ["INT8", "PyTorch"], ["FP32", "ONNX Runtime"], ["INT8", "ONNX Runtime"]]
    assert "| INT8        | ONNX Runtime" in (workspace / "reports" / "results.md").read_text()
    for picture in ("comparison.png", "curves.png"):
        assert (workspace / "reports" / picture).stat().st_size > 10_000
    qat_eval = pd.read_csv(workspace / "reports" / "curves" / "qat_eval.csv")
    assert qat_eval["step"].iloc[0] == 0  # the score right after calibration is kept
    for name in ("fp32.onnx", "int8.onnx"):
        assert (workspace / "models" / "onnx" / name).is_file()

    # Nothing changed: nothing reruns.
    assert "didn't change" in dvc(workspace, "repro").stdout
    assert dvc(workspace, "status").stdout.strip().endswith("up to date.")

    # One -S switches the whole pipeline, and metrics diff shows the new task's figures.
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "mrpc baseline")
    dvc(workspace, "exp", "run", "-S", "task=stsb")
    diff = dvc(workspace, "metrics", "diff", "--json").stdout
    changed = json.loads(diff)["reports/metrics.json"]
    assert {"fp32.pearson", "int8.pearson", "onnx_int8.spearman"} <= set(changed)
    assert changed["fp32.f1"]["new"] is None  # mrpc's F1 does not carry over

    # Question answering through the same six stages, from a folder in the SQuAD layout.
    if not SQUAD_FILE.is_file():
        return
    squad_dir = write_squad_folder(workspace.parent / "squad_data")
    dvc(workspace, "exp", "run", "-S", "task=squad", "-S", f"data.dir={squad_dir}",
        "-S", "qa.max_seq_length=128", "-S", "qa.max_question_length=32", "-S", "qa.doc_stride=32",
        "-S", "data.max_train_samples=48", "-S", "data.max_eval_samples=24")
    metrics = json.loads((workspace / "reports" / "metrics.json").read_text())
    for name in MODELS:
        assert {"exact", "f1", "main", "size_mb"} <= set(metrics[name])
        assert metrics[name]["main"] == metrics[name]["f1"]
    parity = abs(metrics["onnx_int8"]["f1"] - metrics["int8"]["f1"])
    assert parity <= 5.0
    import onnx
    outputs = [o.name for o in onnx.load(workspace / "models" / "onnx" / "int8.onnx").graph.output]
    assert outputs == ["start_logits", "end_logits"]
    changed = json.loads(dvc(workspace, "metrics", "diff", "--json").stdout)["reports/metrics.json"]
    assert changed["fp32.exact"]["old"] is None and changed["fp32.exact"]["new"] is not None
    assert changed["fp32.accuracy"]["new"] is None  # the classification baseline's figure


def write_squad_folder(folder):
    """train-v1.1.json (four articles) and dev-v1.1.json (the fifth) from the shared subset."""
    articles = json.loads(SQUAD_FILE.read_text())["data"]
    folder.mkdir()
    for name, part in (("train-v1.1.json", articles[:4]), ("dev-v1.1.json", articles[4:])):
        (folder / name).write_text(json.dumps({"version": "1.1", "data": part}))
    return folder


@needs_glue
def test_a_failing_stage_names_the_fix_and_writes_nothing(workspace, tiny_model_dir):
    write_params(workspace, small_params(tiny_model_dir, task="qnli"))
    result = run_stage(workspace, "download")
    assert result.returncode == 2
    assert "QNLI/train.tsv not found" in result.stderr
    assert not (workspace / "data" / "prepared").exists()
    assert not (workspace / "models" / "base").exists()
    assert not list(workspace.glob("**/*.partial"))
