"""The summary over DVC experiments: which runs count, the table maths, the published drops."""
import json
import math
import re
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO, set_dotted, stage_env

from stages.lib.reporting.experiment_runs import group_runs, label_params, runs_from_exp_show
from stages.lib.reporting.references import load_references
from stages.lib.reporting.summary import (
    drop_intervals,
    mean_std,
    methods_table,
    published_drops,
    summary_tables,
)
from stages.tools.summarize import as_exp_show
from stages.tools.summarize import main as summarize_main

BASE_PARAMS = {"task": "mrpc", "seed": 42, "device": "auto", "data": {"max_seq_length": 128},
               "qat": {"lr": 1e-05}, "ptq_accuracy": {}, "latency": {"repeats": 30}}


def params(**changes):
    return set_dotted(json.loads(json.dumps(BASE_PARAMS)), changes)


def metrics(fp32, int8, onnx_int8=None, **methods):
    onnx_int8 = int8 if onnx_int8 is None else onnx_int8
    return {"fp32": {"main": fp32}, "qat": {"main": int8}, "onnx_fp32": {"main": fp32},
            "onnx_qat": {"main": onnx_int8}, **{k: {"main": v} for k, v in methods.items()}}


def legacy_metrics(fp32, int8):
    """reports/metrics.json as runs made before the PTQ methods wrote it."""
    return {"fp32": {"main": fp32}, "int8": {"main": int8}, "onnx_fp32": {"main": fp32},
            "onnx_int8": {"main": int8}}


def entry(name, rev, run_params, run_metrics, state=None, timings=None):
    """One record as `dvc exp show --json` gives it."""
    record = {"rev": rev, "name": name, "data": {
        "rev": rev, "params": {"params.yaml": {"data": run_params}},
        "metrics": {"reports/metrics.json": {"data": run_metrics},
                    "reports/latency.json": {"data": timings or {}}}}}
    return {"revs": [record], "executor": state and {"state": state}}, record


def exp_show(baseline_metrics, *experiments):
    _, baseline = entry("main", "b" * 40, params(task="stsb"), baseline_metrics)
    baseline["experiments"] = [entry(*exp)[0] for exp in experiments]
    workspace = {"rev": "workspace", "name": None, "data": baseline["data"], "experiments": None}
    return [workspace, baseline]


def seeds_exp_show():
    return exp_show(
        metrics(85.0, 84.0),
        ("mrpc-s42", "1" * 40, params(seed=42), metrics(88.0, 87.0)),
        ("mrpc-s43", "2" * 40, params(seed=43), metrics(90.0, 88.0)),
        ("mrpc-s44", "3" * 40, params(seed=44), metrics(89.0, 89.0)),
        ("running", "4" * 40, params(seed=45), metrics(85.0, 84.0), "running"),
        ("queued", "5" * 40, params(seed=46), metrics(85.0, 84.0), "queued"),
        ("failed", "6" * 40, params(seed=47), metrics(85.0, 84.0), "failed"),
        # mrpc-s42 again, on another commit whose params.yaml gained a latency setting
        ("again", "7" * 40, params(seed=42, **{"latency.repeats": 5}), metrics(88.0, 87.0)),
        ("no-metrics", "8" * 40, params(seed=48), {}),
    )


def test_only_finished_runs_count_and_each_once():
    runs = runs_from_exp_show(seeds_exp_show())
    assert [run.name for run in runs] == ["mrpc-s42", "mrpc-s43", "mrpc-s44", "main"]
    assert [run.task for run in runs] == ["mrpc"] * 3 + ["stsb"]


def test_seeds_give_mean_and_sample_std_and_the_average_spans_tasks_with_other_metrics():
    groups = group_runs(runs_from_exp_show(seeds_exp_show()))
    assert list(groups) == ["mrpc", "stsb"]  # latency/seed differences do not split a cell
    table, long = summary_tables(groups)

    fp32 = long[(long["column"] == "mrpc") & (long["figure"] == "fp32")].iloc[0]
    assert (fp32["mean"], fp32["std"], fp32["n"]) == (89.0, 1.0, 3)  # 88, 90, 89
    drop = long[(long["column"] == "mrpc") & (long["figure"] == "drop:qat")].iloc[0]
    # drops per seed 1, 2, 0: the std is of the drops, not of the difference of the means
    assert (drop["mean"], drop["std"]) == (1.0, 1.0)
    rel = long[(long["column"] == "mrpc") & (long["figure"] == "drop_rel:qat")].iloc[0]
    assert rel["mean"] == pytest.approx((100 / 88 + 200 / 90 + 0) / 3)

    assert list(table.columns) == ["mrpc (f1)", "stsb (pearson)", "average"]
    assert table.loc["FP32 (PyTorch)", "mrpc (f1)"] == "89.00 ± 1.00"
    assert table.loc["FP32 (PyTorch)", "stsb (pearson)"] == "85.00"  # one run: no ± shown
    assert table.loc["FP32 (PyTorch)", "average"] == "87.00"  # (89 + 85) / 2
    assert table.loc["INT8 QAT (ONNX Runtime)", "average"] == "86.00"  # (88 + 84) / 2
    assert table.loc["runs", "mrpc (f1)"] == "3 (seed 42, 43, 44)"


def test_a_drop_over_seeds_gets_its_t_interval_and_a_single_run_none():
    _, long = summary_tables(group_runs(runs_from_exp_show(seeds_exp_show())))
    drop = long[(long["column"] == "mrpc") & (long["figure"] == "drop:qat")].iloc[0]
    # drops 1, 2, 0 over three seeds: std 1, t(0.975, 2 degrees of freedom) = 4.3027
    assert drop["ci95"] == pytest.approx(4.302653 / math.sqrt(3))
    intervals = drop_intervals(long)
    rel = long[(long["column"] == "mrpc") & (long["figure"] == "drop_rel:qat")].iloc[0]
    assert intervals.loc["INT8 QAT (ONNX Runtime)", "mrpc"] == (
        f"{rel['mean']:.2f} [{rel['mean'] - rel['ci95']:.2f}, {rel['mean'] + rel['ci95']:.2f}]")
    assert "stsb" not in intervals.columns  # one run: no interval


def test_mean_std_of_one_value_has_no_spread():
    mean, std = mean_std([70.5])
    assert mean == 70.5 and math.isnan(std)
    assert mean_std([1, 2, 3, 4]) == (2.5, pytest.approx(1.2909944))


def test_a_task_run_with_other_settings_gets_a_column_of_its_own():
    runs = runs_from_exp_show(exp_show(
        metrics(85.0, 84.0),
        ("a", "1" * 40, params(), metrics(88.0, 87.0)),
        ("b", "2" * 40, params(**{"qat.lr": 2e-05}), metrics(88.0, 86.0)),
        ("c", "3" * 40, params(seed=7, **{"qat.lr": 2e-05}), metrics(87.0, 86.0))))
    groups = group_runs(runs)
    assert {label: len(members) for label, members in groups.items()} == {
        "mrpc (qat.lr=1e-05)": 1, "mrpc (qat.lr=2e-05)": 2, "stsb": 1}

    many = runs_from_exp_show(exp_show(
        metrics(85.0, 84.0),
        ("a", "1" * 40, params(), metrics(88.0, 87.0)),
        ("b", "2" * 40, params(**{"qat.lr": 2e-05, "data.max_seq_length": 64, "task": "mrpc",
                                  "device": "cpu"}), metrics(88.0, 86.0)),
        ("c", "3" * 40, {**params(), "finetune": {"epochs": 3}}, metrics(87.0, 86.0))))
    # At most two params named, those that tell the columns apart first; runs.csv has them all.
    assert set(group_runs(many)) == {
        "mrpc (data.max_seq_length=128, finetune.epochs=None, +1 more)",
        "mrpc (data.max_seq_length=64, finetune.epochs=None, +1 more)",
        "mrpc (data.max_seq_length=128, finetune.epochs=3, +1 more)", "stsb"}


def test_column_labels_name_the_params_that_tell_runs_apart_before_the_rest():
    settings = [{"a.x": "1", "b.y": "1", "c.z": "1"}, {"a.x": "2", "b.y": "1", "c.z": "1"},
                {"a.x": "1", "b.y": "1", "c.z": "2"}, {"a.x": "1", "c.z": "3", "new": "1"}]
    # c.z alone separates 5 of the 6 pairs; then a.x the last; b.y and new, unset in one run,
    # differ too but are not needed, so they come last
    assert label_params(settings) == ["c.z", "a.x", "b.y", "new"]
    # a tie goes to the weightier param: a model given fine-tuned before its schedule
    settings = [{"finetune.lr": "1", "model.finetuned": "false"},
                {"finetune.lr": "2", "model.finetuned": "true"}]
    assert label_params(settings) == ["model.finetuned", "finetune.lr"]


def test_published_drops_are_matched_on_the_tasks_headline_metric():
    groups = group_runs(runs_from_exp_show(seeds_exp_show()))
    _, long = summary_tables(groups)
    published = published_drops(load_references(REPO / "data" / "references.csv"), groups, long)
    ours = published.iloc[0]  # our own mean relative drop heads the table
    assert ours.name.startswith("ours") and ours["stsb"] == pytest.approx(100 * 1 / 85, abs=0.01)
    q8bert = published.loc["Q8BERT (Zafrir et al. 2019): bert-base-uncased, "
                           "QAT (symmetric linear 8-bit)"]
    assert q8bert["mrpc"] == 0.49 and q8bert["stsb"] == 0.65  # F1 and Pearson, Table 1
    aimet = published.loc["AIMET model zoo: distilbert-base-uncased, W8A8 (AIMET)"]
    assert aimet["mrpc"] == pytest.approx(-1.06) and aimet["stsb"] == pytest.approx(0.41)
    assert not any("accuracy" in name for name in published.index)
    assert all("glue" not in name for name in published.columns)


def test_the_command_writes_the_table_files_and_picture(tmp_path):
    saved = tmp_path / "exp_show.json"
    saved.write_text(json.dumps(seeds_exp_show()))
    out = tmp_path / "summary"
    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize", "--input", saved,
                             "--out", out, "--exp", "mrpc-*"], cwd=REPO, capture_output=True,
                            text=True, env=stage_env())
    assert result.returncode == 0, result.stderr
    text = (out / "summary.md").read_text()
    assert re.search(r"\| FP32 \(PyTorch\) +\| 89\.00 ± 1\.00", text)
    assert "stsb" not in text.split("## Relative drop")[0]  # --exp kept only the mrpc runs
    runs = pd.read_csv(out / "runs.csv")
    assert runs["name"].tolist() == ["mrpc-s42", "mrpc-s43", "mrpc-s44"]
    assert runs["qat.lr"].tolist() == [1e-05] * 3 and runs["column"].tolist() == ["mrpc"] * 3
    assert (out / "summary.png").stat().st_size > 10_000

    # the runs it was built from are kept beside it: a clone, without the experiment refs,
    # rebuilds the same summary from them
    again = tmp_path / "again"
    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize", "--input",
                             out / "exp_show.json", "--out", again], cwd=REPO,
                            capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stderr
    for name in ("summary.md", "summary.csv", "runs.csv", "methods.csv"):
        assert (again / name).read_text() == (out / name).read_text(), name

    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize", "--input", saved,
                             "--out", tmp_path / "none", "--exp", "nothing-*"], cwd=REPO,
                            capture_output=True, text=True, env=stage_env())
    assert result.returncode == 2
    assert "no finished run with reports/metrics.json to summarize" in result.stderr
    assert not (tmp_path / "none").exists()


def test_ptq_rows_appear_where_runs_have_them_and_old_runs_still_count():
    runs = runs_from_exp_show(exp_show(
        legacy_metrics(80.0, 79.0),
        ("m42", "c" * 40, params(), metrics(90.0, 89.0, onnx_ptq_dynamic=85.0)),
        ("m43", "d" * 40, params(seed=43), metrics(92.0, 91.0, onnx_ptq_dynamic=87.0))))
    table, long = summary_tables(group_runs(runs))
    assert table.loc["INT8 QAT (ONNX Runtime)", "stsb (pearson)"] == "**79.00**"  # legacy
    assert table.loc["INT8 PTQ dynamic (ONNX Runtime)", "mrpc (f1)"] == "86.00 ± 1.41"
    assert table.loc["INT8 QAT (ONNX Runtime)", "mrpc (f1)"] == "**90.00 ± 1.41**"  # the best
    assert table.loc["best INT8", "mrpc (f1)"] == "QAT"
    assert table.loc["INT8 PTQ dynamic (ONNX Runtime)", "stsb (pearson)"] == "-"
    assert "INT8 PTQ static (ONNX Runtime)" not in table.index  # no run had it


def method_run(name, rev, qat_main, qat_cost, distill, seed=42):
    """A run with every method; PTQ and FP32 figures as a QAT param leaves them."""
    figures = {"fp32": (90.0, 86.7), "onnx_fp32": (90.0, 86.8), "qat": (qat_main, 87.0),
               "onnx_qat": (qat_main, 22.3), "onnx_ptq_static": (88.0, 22.3),
               "onnx_ptq_dynamic": (87.0, 22.4)}
    metrics = {k: {"main": main, "size_mb": size} for k, (main, size) in figures.items()}
    timings = {k: {"latency_ms": 5.0 if k != "onnx_fp32" else 9.0} for k in figures}
    timings["quantization_wall_s"] = {"qat": qat_cost, "ptq_static": 20.0, "ptq_dynamic": 1.5}
    run_params = params(seed=seed)
    run_params["qat"]["distill"] = {"enabled": distill}
    return name, rev, run_params, metrics, None, timings


def test_the_methods_table_shows_each_method_once_with_its_cost():
    runs = runs_from_exp_show(exp_show(
        metrics(70.0, 69.0),  # the stsb baseline, from before PTQ: QAT only
        method_run("plain", "c" * 40, 89.5, 400.0, False),
        method_run("taught", "d" * 40, 89.8, 460.0, True)))
    methods = methods_table(group_runs(runs))
    mrpc = methods[methods["task"] == "mrpc"].set_index("method")
    assert list(mrpc.index) == ["FP32", "PTQ dynamic", "PTQ static", "QAT",
                                "QAT + distillation"]  # as the effort to make them grows
    assert mrpc.loc["PTQ static", "cost_s"] == 20.0 and mrpc.loc["PTQ dynamic", "cost_s"] == 1.5
    assert mrpc.loc["QAT + distillation", ["main", "cost_s"]].tolist() == [89.8, 460.0]
    assert mrpc.loc["QAT", "drop_rel_%"] == pytest.approx(100 * 0.5 / 90)
    assert mrpc.loc["FP32", "latency_ms"] == 9.0 and math.isnan(mrpc.loc["FP32", "cost_s"])
    stsb = methods[methods["task"] == "stsb"]
    assert stsb["method"].tolist() == ["FP32", "QAT"]  # an old run: no PTQ rows, no cost
    assert stsb["cost_s"].isna().all()


def test_the_best_int8_method_of_a_task_is_the_cheapest_of_the_highest():
    """Each task's best INT8 model: the highest mean; on a tie, the method that takes less."""
    tied = {"fp32": {"main": 90.0}, "onnx_fp32": {"main": 90.0}, "onnx_qat": {"main": 89.0},
            "onnx_ptq_static": {"main": 89.0}, "onnx_ptq_accuracy": {"main": 89.5},
            "onnx_ptq_dynamic": {"main": 88.0}}
    held_out = {"ptq_accuracy.select_on": "train"}
    runs = runs_from_exp_show(exp_show(metrics(85.0, 84.0),
                                       ("all", "1" * 40, params(**held_out), tied),
                                       ("tie", "2" * 40, params(task="rte", **held_out),
                                        {**tied, "onnx_ptq_accuracy": {"main": 88.0}})))
    table, long = summary_tables(group_runs(runs))
    assert table.loc["best INT8", "mrpc (f1)"] == "PTQ accuracy-aware"
    assert table.loc["INT8 PTQ accuracy-aware (ONNX Runtime)", "mrpc (f1)"] == "**89.50**"
    assert table.loc["best INT8", "rte (accuracy)"] == "PTQ static"  # QAT ties, costs more
    best = long[long["best"]].set_index("column")["figure"].to_dict()
    assert best == {"mrpc": "onnx_ptq_accuracy", "rte": "onnx_ptq_static", "stsb": "onnx_qat"}


def test_accuracy_aware_ptq_chosen_on_the_scored_split_is_marked_and_not_ranked(tmp_path):
    """Accuracy-aware PTQ that picked its FP32 layers on the validation split (select_on:
    validation, or a run from before the setting) scores what it was picked to score there:
    shown with a mark, never the best INT8; the same figure held out is ranked."""
    scores = {"fp32": {"main": 90.0}, "onnx_fp32": {"main": 90.0}, "onnx_qat": {"main": 89.0},
              "onnx_ptq_accuracy": {"main": 91.0}}
    runs = runs_from_exp_show(exp_show(
        metrics(85.0, 84.0),
        ("picked", "1" * 40, params(**{"ptq_accuracy.select_on": "validation"}), scores),
        ("older", "2" * 40, params(task="rte"), scores),
        ("held-out", "3" * 40, params(task="cola", **{"ptq_accuracy.select_on": "train"}),
         scores)))
    table, long = summary_tables(group_runs(runs))
    row = table.loc["INT8 PTQ accuracy-aware (ONNX Runtime)"]
    assert row["mrpc (f1)"] == row["rte (accuracy)"] == "91.00 †"
    assert row["cola (mcc)"] == "**91.00**"
    assert table.loc["relative drop %, INT8 PTQ accuracy-aware (ONNX Runtime)",
                     "mrpc (f1)"] == "-1.11 †"
    assert table.loc["best INT8"][["mrpc (f1)", "rte (accuracy)", "cola (mcc)"]].tolist() == [
        "QAT", "QAT", "PTQ accuracy-aware"]
    out = tmp_path / "summary"
    exp_file = tmp_path / "exp_show.json"
    exp_file.write_text(json.dumps([entry for run in runs for entry in as_exp_show([run])]))
    summarize_main(["--input", str(exp_file), "--out", str(out)])
    assert "- † chose among models (accuracy-aware PTQ" in (out / "summary.md").read_text()


def test_a_run_without_qat_is_summarized_with_its_own_drop(tmp_path):
    """`-S 'methods=[ptq_static]'`: no onnx_qat, and the run still counts, with its drop."""
    only_static = {"fp32": {"main": 90.0}, "ptq_static": {"main": 88.5},
                   "onnx_fp32": {"main": 90.0}, "onnx_ptq_static": {"main": 88.0}}
    entries = exp_show(metrics(85.0, 84.0),
                       ("static", "1" * 40, params(), only_static))
    runs = runs_from_exp_show(entries)
    assert [run.name for run in runs] == ["static", "main"]
    table, long = summary_tables(group_runs(runs))
    assert table.loc["INT8 PTQ static (ONNX Runtime)", "mrpc (f1)"] == "**88.00**"  # its best
    assert table.loc["INT8 QAT (ONNX Runtime)", "mrpc (f1)"] == "-"
    assert table.loc["drop, INT8 PTQ static (ONNX Runtime)", "mrpc (f1)"] == "2.00"
    published = published_drops(load_references(REPO / "data" / "references.csv"),
                                group_runs(runs), long)
    assert published.loc["ours: INT8 PTQ static (ONNX Runtime), mean over the runs above",
                         "mrpc"] == pytest.approx(100 * 2 / 90, abs=0.01)

    saved = tmp_path / "exp_show.json"
    saved.write_text(json.dumps(entries))
    result = subprocess.run([sys.executable, "-m", "stages.tools.summarize", "--input", saved,
                             "--out", tmp_path / "out"], cwd=REPO, capture_output=True,
                            text=True, env=stage_env())
    assert result.returncode == 0, result.stderr
    assert "| INT8 PTQ static (ONNX Runtime)" in (tmp_path / "out" / "summary.md").read_text()
    assert (tmp_path / "out" / "summary.png").stat().st_size > 10_000
