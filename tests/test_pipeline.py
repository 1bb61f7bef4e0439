"""The real `dvc repro` and `dvc exp run`, end to end, on a tiny model and a small MRPC slice."""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED_DATA, needs_glue, run_stage, small_params, stage_env, write_params

from stages.lib.inference.machine import cpu_description

SQUAD_FILE = SHARED_DATA / "squad" / "dev-v2.0-5-articles.json"

DETERMINISTIC = ("reports/metrics.json", "reports/benchmark/accuracy.json",
                 "reports/curves/finetune_loss.csv", "models/int8/qat/qat_loss.csv")
MODELS = ("fp32", "qat", "ptq_static", "onnx_fp32", "onnx_qat", "onnx_ptq_static",
          "onnx_ptq_dynamic")


def dvc(folder, *args) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=folder, capture_output=True,
                            text=True, env=stage_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def artifact_hashes(folder) -> dict:
    """dvc.lock's hash of every cached model and data output (the export folder's model cards
    carry the benchmark's timings by design, so it is left out)."""
    lock = yaml.safe_load((folder / "dvc.lock").read_text())["stages"]
    hashes = {out["path"]: out["md5"] for stage in lock.values() for out in stage.get("outs", [])
              if out["path"].startswith(("models/", "data/")) and out["path"] != "models/export"}
    assert {"data/prepared", "models/base", "models/fp32", "models/int8/qat",
            "models/onnx"} <= set(hashes)
    return hashes


def check_a_reporting_edit_reruns_only_reporting(workspace):
    """DVC deps are the code a stage runs: an edit to any reporting module marks only
    benchmark, report or package as changed, never fine-tuning, quantization or evaluation."""
    for module in sorted((workspace / "stages" / "lib" / "reporting").glob("*.py")):
        original = module.read_text()
        module.write_text(original + "\n# an edit\n")
        try:
            changed = set(json.loads(dvc(workspace, "status", "--json").stdout))
        finally:
            module.write_text(original)
        assert changed <= {"benchmark", "report", "package"}, (module.name, changed)
        if module.name == "benchmark_report.py":
            assert changed == {"benchmark", "report"}


def git(folder, *args):
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, env=stage_env())


@needs_glue
@pytest.mark.start_first
def test_dvc_repro_end_to_end_then_switch_task_with_exp_run(workspace, tiny_model_dir):
    write_params(workspace, small_params(tiny_model_dir))
    dvc(workspace, "repro")

    metrics = json.loads((workspace / "reports" / "metrics.json").read_text())
    assert set(metrics) == set(MODELS)
    scores = {"f1", "accuracy", "f1_test", "accuracy_test"}
    for name in MODELS:
        assert {"f1", "accuracy", "main", "size_mb"} <= set(metrics[name])
        assert set(metrics[name]) <= scores | {"main", "size_mb"}  # timings live apart
        assert metrics[name]["main"] == metrics[name]["f1"]
    latency = json.loads((workspace / "reports" / "latency.json").read_text())
    assert all(latency[name]["latency_ms"] > 0 for name in MODELS)
    assert set(latency["quantization_wall_s"]) == {"qat", "ptq_static", "ptq_dynamic"}
    table = pd.read_csv(workspace / "reports" / "results.csv")
    assert table[["method", "runtime"]].values.tolist() == [
        ["FP32", "PyTorch"], ["QAT", "PyTorch"], ["PTQ static", "PyTorch"],
        ["FP32", "ONNX Runtime"], ["QAT", "ONNX Runtime"], ["PTQ static", "ONNX Runtime"],
        ["PTQ dynamic", "ONNX Runtime"]]
    assert (table.loc[table["precision"] == "INT8", "cost_s"] > 0).all()
    assert table["scheme"].str.contains("per-channel").sum() == 5
    assert "| PTQ dynamic | INT8        | ONNX Runtime" in (
        workspace / "reports" / "results.md").read_text()
    for picture in ("comparison.png", "curves.png"):
        assert (workspace / "reports" / picture).stat().st_size > 10_000
    qat_eval = pd.read_csv(workspace / "models" / "int8" / "qat" / "qat_eval.csv")
    assert qat_eval["step"].iloc[0] == 0  # the score right after calibration is kept
    for name in ("fp32", "qat", "ptq_static", "ptq_dynamic"):
        assert (workspace / "models" / "onnx" / f"{name}.onnx").is_file()
    check_export_folder(workspace)
    check_benchmark(workspace)
    stage_times = {path.stem: json.loads(path.read_text())
                   for path in (workspace / "reports" / "timings").glob("*.json")}
    assert set(stage_times) == {"download", "finetune", "qat", "ptq_static", "ptq_dynamic",
                                "evaluate", "export", "benchmark", "report", "package"}
    assert all(t["wall_s"] >= t["main_s"] > 0 for t in stage_times.values())
    check_training_profile(workspace)
    check_onnx_comparison(workspace)

    # Determinism: everything again from scratch gives the very same metrics (timings, kept
    # apart in latency.json and reports/timings/, may differ).
    first = {path: (workspace / path).read_text() for path in DETERMINISTIC}
    hashes = artifact_hashes(workspace)
    dvc(workspace, "repro", "--force")
    assert {path: (workspace / path).read_text() for path in DETERMINISTIC} == first
    # ... and the very same cached artifacts: no timing hides in a model or data folder.
    assert artifact_hashes(workspace) == hashes

    # Nothing changed: nothing reruns.
    assert "didn't change" in dvc(workspace, "repro").stdout
    assert dvc(workspace, "status").stdout.strip().endswith("up to date.")
    check_a_reporting_edit_reruns_only_reporting(workspace)

    # A shared cache: push to a remote, and a fresh clone pulls it and reruns nothing.
    remote = workspace.parent / "dvc-remote"
    dvc(workspace, "remote", "add", "-d", "shared", str(remote))
    dvc(workspace, "push")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "mrpc baseline")
    check_fresh_clone_pulls_and_reruns_nothing(workspace, workspace.parent / "clone")

    # One -S switches the whole pipeline, and metrics diff shows the new task's figures.

    # A QAT param reruns QAT and what reads it, not the FP32 model or the other methods.
    log = dvc(workspace, "exp", "run", "-S", "qat.distill.enabled=true").stdout
    for stage in ("finetune", "quantize@ptq_static", "quantize@ptq_dynamic"):
        assert f"Stage '{stage}' didn't change" in log, stage
    assert "Running stage 'quantize@qat'" in log
    table = pd.read_csv(workspace / "reports" / "results.csv").set_index("model")
    assert table.loc["onnx_qat", "method"] == "QAT + distillation"
    assert "distill a=0.5 T=2.0" in table.loc["onnx_qat", "scheme"]

    # Back to the baseline's params: DVC's run cache gives back the QAT model made for them
    # (and its evaluation and export) instead of training it again.
    git(workspace, "checkout", "params.yaml")
    log = dvc(workspace, "repro").stdout
    for stage in ("quantize@qat", "evaluate", "export"):
        assert f"Stage '{stage}' is cached - skipping run" in log, stage
    assert (workspace / "reports" / "metrics.json").read_text() == first["reports/metrics.json"]

    # A random model's STS-B outputs barely vary (spread ~1e-4), so its Pearson is noise that
    # INT8 kernels move by tens of points on CPUs without VNNI; parity is checked on MRPC above.
    dvc(workspace, "exp", "run", "-S", "task=stsb", "-S", "export.parity_tolerance=200")
    diff = dvc(workspace, "metrics", "diff", "--json").stdout
    changed = json.loads(diff)["reports/metrics.json"]
    assert {"fp32.pearson", "qat.pearson", "onnx_ptq_dynamic.spearman"} <= set(changed)
    assert changed["fp32.f1"]["new"] is None  # mrpc's F1 does not carry over
    check_plots_diff(workspace)

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
    parity = abs(metrics["onnx_qat"]["f1"] - metrics["qat"]["f1"])
    assert parity <= 5.0
    import onnx
    outputs = [o.name for o in onnx.load(workspace / "models" / "onnx" / "qat.onnx").graph.output]
    assert outputs == ["start_logits", "end_logits"]
    changed = json.loads(dvc(workspace, "metrics", "diff", "--json").stdout)["reports/metrics.json"]
    assert changed["fp32.exact"]["old"] is None and changed["fp32.exact"]["new"] is not None
    assert changed["fp32.accuracy"]["new"] is None  # the classification baseline's figure

    # The summary reads the experiments themselves: one column per task, baseline included.
    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize"], cwd=workspace,
                            capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-3000:]
    runs = pd.read_csv(workspace / "reports" / "summary" / "runs.csv")
    assert sorted(runs["task"]) == ["mrpc", "mrpc", "squad", "stsb"]
    header = (workspace / "reports" / "summary" / "summary.md").read_text().splitlines()[2]
    for column in ("mrpc (qat.distill.enabled=False) (f1)", "mrpc (qat.distill.enabled=True) (f1)",
                   "squad (f1)", "stsb (pearson)", "average"):
        assert column in header
    methods = pd.read_csv(workspace / "reports" / "summary" / "methods.csv")
    mrpc = methods[methods["task"] == "mrpc"]
    assert mrpc["method"].tolist() == ["FP32", "PTQ dynamic", "PTQ static", "QAT",
                                       "QAT + distillation"]
    assert (mrpc["cost_s"].iloc[1:] > 0).all()


def check_benchmark(workspace):
    """Every model on every runtime is timed and scored, and ONNX Runtime's score is the
    export stage's score: the benchmark runs the same models, not stand-ins."""
    folder = workspace / "reports" / "benchmark"
    accuracy = json.loads((folder / "accuracy.json").read_text())
    onnx = json.loads((workspace / "reports" / "eval" / "onnx.json").read_text())
    bf16_engines = 1 + bool({"avx512_bf16", "amx_bf16"} & set(cpu_description()["isa"]))
    for model in ("fp32", "qat", "ptq_static", "ptq_dynamic"):
        ort = accuracy[f"{model}/onnxruntime/{'FP32' if model == 'fp32' else 'INT8 + FP32'}"]
        assert ort["main"] == onnx[f"onnx_{model}"]["main"], model
        # f32 and bf16; on a CPU without BF16 instructions both are FP32, benchmarked once;
        # OpenVINO cannot read dynamic PTQ's fused graph (QAttention), which the report says
        expected = 0 if model == "ptq_dynamic" else bf16_engines
        assert sum(name.startswith(f"{model}/openvino/") for name in accuracy) == expected
    assert "fp32/pytorch/FP32" in accuracy
    timings = json.loads((folder / "timings.json").read_text())
    assert len(timings["rows"]) == len(accuracy) * 2  # batch 1 and 4, one length, one count
    assert all(r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] for r in timings["rows"])
    assert {"cpu", "cores", "isa", "onnxruntime", "openvino"} <= set(timings["machine"])
    report = (folder / "benchmark.md").read_text()
    assert "## Targets" in report and "fastest INT8 vs fastest float, batch 4" in report
    assert "- not run: ptq_dynamic on openvino: No conversion rule found for operations: " \
        "com.microsoft.QAttention" in report
    assert (folder / "benchmark.png").stat().st_size > 10_000


def check_fresh_clone_pulls_and_reruns_nothing(workspace, clone):
    git(workspace.parent, "clone", "-q", str(workspace), str(clone))
    assert not (clone / "models" / "fp32").exists()  # weights travel by DVC, not git
    dvc(clone, "pull")
    assert dvc(clone, "status").stdout.strip().endswith("up to date.")
    log = dvc(clone, "repro").stdout
    assert "Running stage" not in log and "didn't change" in log
    shown = [json.loads(dvc(folder, "metrics", "show", "--json").stdout)
             for folder in (workspace, clone)]
    assert shown[0] == shown[1]
    assert (clone / "models" / "onnx" / "qat.onnx").read_bytes() == \
        (workspace / "models" / "onnx" / "qat.onnx").read_bytes()


def check_training_profile(workspace):
    """The documented profiling command runs on the pipeline's outputs and names operators."""
    result = subprocess.run([sys.executable, "-m", "stages.tools.profile_training", "--steps", "2"],
                            cwd=workspace, capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-3000:]
    text = (workspace / "reports" / "profiles" / "training_step.md").read_text()
    assert "## FP32" in text and "`aten::" in text
    # QAT twice, the same arithmetic: NNCF's C++ extension and the compiled quantizers
    assert "## QAT, NNCF's CPU extension" in text and "## QAT, compiled quantizers" in text
    assert text.count("x FP32's") == 2


def check_onnx_comparison(workspace):
    """The documented before/after timing command runs on the pipeline's ONNX files: the fused
    FP32 file against itself, each model on both runtimes, ratios near 1."""
    result = subprocess.run([sys.executable, "-m", "stages.tools.compare_onnx", "--before",
                             "models/onnx", "--after", "models/onnx", "--rounds", "1", "--out",
                             "reports/profiles/compare.md"],
                            cwd=workspace, capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-3000:]
    text = (workspace / "reports" / "profiles" / "compare.md").read_text()
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3])
            for line in text.splitlines() if line.startswith("| ")}
    assert {("fp32", "onnxruntime"), ("fp32", "openvino"), ("ptq_dynamic", "onnxruntime")} <= rows
    assert "fused ops, fp32 (after): {'Attention'" in text
    assert "ptq_dynamic (before) on openvino: No conversion rule found" in text


def check_export_folder(workspace):
    """models/export/<method> stands alone: the predict command needs nothing else."""
    assert sorted(p.name for p in (workspace / "models" / "export").iterdir()) == [
        "fp32", "ptq_dynamic", "ptq_static", "qat"]
    folder = workspace / "models" / "export" / "qat"
    for name in ("model.onnx", "tokenizer.json", "config.json", "model_info.json", "README.md"):
        assert (folder / name).is_file(), name
    card = (folder / "README.md").read_text()
    metrics = json.loads((workspace / "reports" / "metrics.json").read_text())
    assert f"`f1` {metrics['onnx_qat']['f1']:.2f} on `validation`" in card
    assert "python -m stages.tools.predict models/export/qat" in card
    assert "## Published references" in card and "Q8BERT" in card
    # A hub upload shows the scores: the front matter parses as Hugging Face card metadata.
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results
    data = ModelCard(card).data.to_dict()
    assert data["pipeline_tag"] == "text-classification" and data["datasets"] == ["nyu-mll/glue"]
    _, results = model_index_to_eval_results(data["model-index"])
    assert (results[0].metric_type, results[0].metric_value) == ("f1", metrics["onnx_qat"]["f1"])
    assert (results[0].dataset_type, results[0].dataset_config) == ("nyu-mll/glue", "mrpc")
    result = subprocess.run([sys.executable, "-m", "stages.tools.predict", str(folder),
                             "the cat sat", "a cat was sitting"], cwd=REPO,
                            capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["label"] in ("0", "1")
    # The card names the fastest runtime measured; its OpenVINO snippet runs as written.
    assert "## Speed on every runtime" in card and "| openvino " in card
    snippet = card.split("```python\n")[1].split("```")[0]
    if "import openvino" in snippet:
        namespace = {}
        exec(compile(snippet, "model card", "exec"), namespace)
        assert namespace["outputs"][0].shape == (1, 2)


def check_plots_diff(workspace):
    """`dvc plots diff` puts the baseline's and the experiment's pictures side by side."""
    out = workspace.parent / "plots"
    result = dvc(workspace, "plots", "diff", "HEAD", "--json", "-o", str(out))
    plots = json.loads(result.stdout)["data"]
    for picture in ("comparison.png", "curves.png", "references.png"):
        images = {entry["revisions"][0]: entry["url"] for entry in plots[f"reports/{picture}"]}
        assert set(images) == {"workspace", "HEAD"}, picture
    comparison = {rev: Path(url).read_bytes()
                  for rev, url in ((e["revisions"][0], e["url"])
                                   for e in plots["reports/comparison.png"])}
    assert comparison["workspace"] != comparison["HEAD"]  # stsb's figures, not mrpc's


def write_squad_folder(folder):
    """train-v1.1.json (four articles) and dev-v1.1.json (the fifth) from the shared subset."""
    articles = json.loads(SQUAD_FILE.read_text())["data"]
    folder.mkdir()
    for name, part in (("train-v1.1.json", articles[:4]), ("dev-v1.1.json", articles[4:])):
        (folder / name).write_text(json.dumps({"version": "1.1", "data": part}))
    return folder


@pytest.mark.skipif(not SQUAD_FILE.is_file(), reason=f"no {SQUAD_FILE}")
def test_accuracy_aware_ptq_runs_on_question_answering(workspace, tiny_model_dir,
                                                       tmp_path_factory):
    """SQuAD through download, fine-tuning and ptq_accuracy: NNCF scores questions, each from
    all its context windows, with the official F1; here on training questions, so that the
    validation F1 the evaluate stage reports is held out from the selection."""
    squad_dir = write_squad_folder(tmp_path_factory.mktemp("qa") / "squad_data")
    write_params(workspace, small_params(tiny_model_dir, **{
        "task": "squad", "data.dir": str(squad_dir), "data.max_train_samples": 16,
        "data.max_eval_samples": 12, "qa.max_seq_length": 128, "qa.max_question_length": 32,
        "qa.doc_stride": 32, "methods": ["ptq_accuracy"], "ptq_accuracy.max_iterations": 2,
        "ptq_accuracy.select_on": "train", "ptq_accuracy.select_rows": 10,
        "report.drop_kind": "absolute", "report.max_drop": 1.0}))
    for stage in ("download", "finetune", "ptq_accuracy"):
        result = run_stage(workspace, stage)
        assert result.returncode == 0, f"{stage}: {result.stderr[-3000:]}"
    record = json.loads((workspace / "models" / "int8" / "ptq_accuracy" / "method.json")
                        .read_text())
    assert isinstance(record["kept_fp32"], list) and len(record["kept_fp32"]) <= 2
    assert record["selected_on"] == "train (10 rows)" and "train (10 rows)" in record["scheme"]
    assert "PTQ accuracy-aware squad, on train (10 rows): FP32 " in result.stdout
    import onnx
    graph = onnx.load(workspace / "models" / "int8" / "ptq_accuracy" / "model.onnx").graph
    assert [o.name for o in graph.output] == ["start_logits", "end_logits"]
    assert any(node.op_type == "QuantizeLinear" for node in graph.node)


@needs_glue
def test_a_failing_stage_names_the_fix_and_writes_nothing(workspace, tiny_model_dir):
    write_params(workspace, small_params(tiny_model_dir, task="qnli"))
    result = run_stage(workspace, "download")
    assert result.returncode == 2
    assert "QNLI/train.tsv not found" in result.stderr
    assert not (workspace / "data" / "prepared").exists()
    assert not (workspace / "models" / "base").exists()
    assert not list(workspace.glob("**/*.partial"))


def test_exp_run_task_squad_offline_fails_at_once_naming_both_ways_out(workspace):
    """The README's command as a user types it, with no hub: data.source auto means the hub
    for squad, and the download stage stops in seconds with one line."""
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "baseline")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "run", "-S", "task=squad"],
                            cwd=workspace, capture_output=True, text=True, env=stage_env())
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines()
              if line.startswith("error:")]
    assert len(errors) == 1 and "Hugging Face hub" in errors[0], errors
    assert "connect to the internet, or use local files: -S data.source=local" in errors[0]
    assert time.perf_counter() - started < 120
    assert not (workspace / "data" / "prepared").exists()


@needs_glue
def test_the_experiment_queue_runs_one_pipeline_per_task(workspace, tiny_model_dir):
    """`dvc exp run --queue -S task=a,b` + `dvc queue start`: each queued copy of the commit
    holds every source its stages need."""
    write_params(workspace, small_params(tiny_model_dir, **{
        "benchmark.runtimes": ["onnxruntime"], "methods": ["qat", "ptq_dynamic"]}))
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "baseline")
    dvc(workspace, "exp", "run", "--queue", "-S", "task=mrpc,rte")
    dvc(workspace, "queue", "start", "-j", "1")
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = dvc(workspace, "queue", "status").stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(5)
    assert status.count("Success") == 2, status
    shown = json.loads(dvc(workspace, "exp", "show", "--json").stdout)
    tasks = sorted(exp["data"]["params"]["params.yaml"]["data"]["task"]
                   for rev in shown for group in (rev.get("experiments") or [])
                   for exp in group["revs"])
    assert tasks == ["mrpc", "rte"]
    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize"], cwd=workspace,
                            capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-3000:]
    header = (workspace / "reports" / "summary" / "summary.md").read_text().splitlines()[2]
    assert "mrpc (f1)" in header and "rte (accuracy)" in header


@needs_glue
def test_your_own_csv_runs_through_one_dvc_exp_run(workspace, tiny_model_dir, tmp_path):
    """A user's CSV files (SST-2 rows, labels as words) through the whole pipeline, accuracy-
    aware PTQ picking its FP32 layers on training rows that no model was trained on."""
    sst2 = SHARED_DATA / "glue" / "SST-2"
    for split, name in (("train", "train.tsv"), ("dev", "dev.tsv")):
        rows = pd.read_csv(sst2 / name, sep="\t", quoting=3).head(96)
        rows.assign(stars=rows["label"].map({0: "neg", 1: "pos"}))[["sentence", "stars"]] \
            .rename(columns={"sentence": "review"}).to_csv(tmp_path / f"{split}.csv", index=False)
    write_params(workspace, small_params(tiny_model_dir, **{
        "benchmark.runtimes": ["onnxruntime"], "methods": ["ptq_accuracy", "ptq_dynamic"],
        "report.max_drop": 0.1}))
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "baseline")
    dvc(workspace, "exp", "run", "-S", "task=own", "-S", "data.source=local",
        "-S", f"data.train_file={tmp_path / 'train.csv'}",
        "-S", f"data.validation_file={tmp_path / 'dev.csv'}",
        "-S", "own.text_columns=[review]", "-S", "own.label_column=stars",
        "-S", "data.holdout_rows=24", "-S", "ptq_accuracy.select_on=holdout")
    rows = json.loads((workspace / "data" / "prepared" / "task.json").read_text())["rows"]
    assert rows == {"train": 72, "validation": 64, "holdout": 24}  # small_params: 64 scored
    metrics = json.loads((workspace / "reports" / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "main"} <= set(metrics["onnx_ptq_dynamic"])
    assert metrics["fp32"]["main"] == metrics["fp32"]["accuracy"]
    # accuracy-aware PTQ ran on the user's metric and says which layers it kept in FP32
    record = json.loads((workspace / "models" / "int8" / "ptq_accuracy" / "method.json")
                        .read_text())
    assert isinstance(record["kept_fp32"], list) and "layers kept FP32" in record["scheme"]
    assert record["selected_on"] == "holdout (24 rows)"
    assert record["scheme"] in (workspace / "reports" / "results.md").read_text()
    assert "None published for your data." in (workspace / "reports" / "results.md").read_text()
    result = subprocess.run([sys.executable, "-m", "stages.tools.predict",
                             str(workspace / "models" / "export" / "ptq_dynamic"), "a fine film"],
                            cwd=REPO, capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["label"] in ("neg", "pos")


@needs_glue
def test_a_model_folder_under_models_local_is_watched_by_dvc(workspace, tiny_model_dir):
    """Changing the weights inside the folder `model.name` names reruns download."""
    folder = workspace / "models" / "local" / "tiny"
    shutil.copytree(tiny_model_dir, folder)
    write_params(workspace, small_params(Path("models/local/tiny")))
    log = dvc(workspace, "repro", "download").stdout
    assert "DVC does not watch" not in log
    assert json.loads(dvc(workspace, "status", "download", "--json").stdout) == {}
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    assert "download" in json.loads(dvc(workspace, "status", "download", "--json").stdout)
