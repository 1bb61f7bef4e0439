from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from stages.lib.core.errors import PipelineError
from stages.lib.tasks.kinds import EXTRACTIVE_QA, REGRESSION
from stages.lib.tasks.metrics import METRICS, flatten, headline_split
from stages.lib.tasks.registry import TASKS, get_task


def score_split(logits, labels, task) -> dict:
    """One split's metrics through the task's kind, as evaluation computes them."""
    split = SimpleNamespace(frame=pd.DataFrame({"label": labels}))
    return task.kind.score({"logits": list(logits)}, split, task, settings=None)


def one_hot_logits(preds, num_labels=2):
    logits = np.zeros((len(preds), num_labels))
    logits[np.arange(len(preds)), preds] = 1.0
    return logits


def test_every_task_names_known_metrics_and_splits():
    qa_metrics = {f"{prefix}{name}" for prefix in ("", "HasAns_", "NoAns_", "best_")
                  for name in ("exact", "f1")}
    for task in TASKS.values():
        known = qa_metrics if task.kind is EXTRACTIVE_QA else set(METRICS)
        assert set(task.metrics) <= known, task.name
        assert task.splits[0] == "train"
        if task.glue_dir:
            assert set(task.glue_files) == set(task.splits), task.name
            assert len(task.glue_columns) == len(task.text_fields), task.name


def test_headline_metrics_are_the_ones_papers_report():
    expected = {"cola": "mcc", "sst2": "accuracy", "mrpc": "f1", "qqp": "f1", "stsb": "pearson",
                "mnli": "accuracy", "qnli": "accuracy", "rte": "accuracy", "wnli": "accuracy",
                "rotten_tomatoes": "accuracy", "xnli": "accuracy", "squad": "f1", "squad_v2": "f1"}
    assert {name: task.main_metric for name, task in TASKS.items()} == expected
    assert TASKS["mrpc"].metrics == ("f1", "accuracy")
    assert TASKS["stsb"].metrics == ("pearson", "spearman") and TASKS["stsb"].kind is REGRESSION


def test_unknown_task_names_the_choices():
    with pytest.raises(PipelineError, match="unknown task 'sst-2'.*sst2"):
        get_task("sst-2")


def test_accuracy_and_f1_by_hand():
    labels = np.array([1, 1, 0, 0, 1])
    preds = np.array([1, 0, 0, 1, 1])  # tp=2 fp=1 fn=1 -> f1 = 2/3, accuracy 3/5
    result = score_split(one_hot_logits(preds), labels, get_task("mrpc"))
    assert result == {"f1": pytest.approx(66.6667, abs=1e-3), "accuracy": 60.0}


def test_mcc_by_hand():
    labels = np.array([1, 1, 0, 0])
    preds = np.array([1, 0, 0, 0])  # tp=1 tn=2 fp=0 fn=1 -> 2/sqrt(1*2*3*2)... = 0.57735
    result = score_split(one_hot_logits(preds), labels, get_task("cola"))
    assert result["mcc"] == pytest.approx(57.735, abs=1e-3)
    assert result["accuracy"] == 75.0


def test_regression_uses_the_single_logit():
    labels = np.array([0.0, 1.0, 2.0, 3.0])
    logits = np.array([[0.1], [0.9], [2.2], [2.9]])
    result = score_split(logits, labels, get_task("stsb"))
    assert result["spearman"] == pytest.approx(100.0)
    assert 99.0 < result["pearson"] < 100.0


def test_mnli_reports_matched_as_main_and_mismatched_beside_it():
    task = get_task("mnli")
    labels = np.array([0, 1, 2, 0])
    results = {"validation_matched": score_split(one_hot_logits([0, 1, 2, 1], 3), labels, task),
               "validation_mismatched": score_split(one_hot_logits([0, 1, 1, 1], 3), labels, task)}
    assert flatten(results, task) == {"accuracy": 75.0, "accuracy_mm": 50.0, "main": 75.0}


def test_the_benchmark_reads_the_headline_split_back_out_of_the_flat_scores():
    mnli = {"accuracy": 75.0, "accuracy_mm": 50.0, "main": 75.0, "size_mb": 1.0}
    assert headline_split(mnli, get_task("mnli")) == {"accuracy": 75.0, "main": 75.0}
    rotten = {"accuracy": 80.0, "accuracy_test": 79.0, "main": 80.0, "size_mb": 1.0}
    assert headline_split(rotten, get_task("rotten_tomatoes")) == {"accuracy": 80.0, "main": 80.0}
    squad_v2 = {"exact": 1.0, "f1": 2.0, "HasAns_f1": 3.0, "best_f1_thresh": -0.5, "main": 2.0}
    assert headline_split(squad_v2, get_task("squad_v2")) == squad_v2
