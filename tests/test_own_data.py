"""Your own data set (task: own): CSV, TSV, JSON Lines and Parquet read the same way, label
names from the training file, clear errors on files a user gets wrong."""
import json
import re

import pandas as pd
import pytest
from test_bad_input import default_params, run_download_with

from stages.lib.core.errors import PipelineError
from stages.lib.data.own_data import load_own
from stages.lib.data.prepared import load_task
from stages.lib.data.sources import prepare
from stages.lib.tasks.kinds import REGRESSION
from stages.lib.tasks.own import own_task

TRAIN = pd.DataFrame({"review": ["a fine film", "a dull film", "so so", "great fun"],
                      "stars": ["pos", "neg", "mid", "pos"]})
DEV = pd.DataFrame({"review": ["fine", "dull"], "stars": ["pos", "neg"]})
SPEC = {"kind": "classification", "text_columns": ["review"], "label_column": "stars",
        "labels": None, "metrics": None}


def write(frame: pd.DataFrame, path):
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    return str(path)


def own_splits(tmp_path, suffix=".csv", train=TRAIN, dev=DEV, spec=SPEC):
    data = {"source": "local", "train_file": write(train, tmp_path / f"train{suffix}"),
            "validation_file": write(dev, tmp_path / f"dev{suffix}"), "test_file": None}
    task, raw = load_own(own_task(spec), data, {})
    return task, prepare(raw, task, None, None)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_gives_the_same_prepared_rows_and_sorted_label_names(tmp_path, suffix):
    task, splits = own_splits(tmp_path, suffix)
    assert task.label_names == ("mid", "neg", "pos")
    assert task.metrics == ("accuracy", "macro_f1") and task.eval_splits == ("validation",)
    assert splits["train"]["label"].tolist() == [2, 1, 0, 2]
    assert splits["validation"]["text_a"].tolist() == ["fine", "dull"]


def test_a_text_pair_regression_and_an_explicit_label_order(tmp_path):
    pairs = pd.DataFrame({"q": ["a", "b"], "r": ["c", "d"], "score": ["0.5", "4"]})
    spec = {**SPEC, "kind": "regression", "text_columns": ["q", "r"], "label_column": "score"}
    task, splits = own_splits(tmp_path, ".csv", pairs, pairs, spec)
    assert task.kind is REGRESSION and task.metrics == ("pearson", "spearman")
    assert splits["train"]["label"].tolist() == [0.5, 4.0]
    assert splits["train"]["text_b"].tolist() == ["c", "d"]
    task, _ = own_splits(tmp_path, ".csv", spec={**SPEC, "labels": ["neg", "mid", "pos"]})
    assert task.label_names == ("neg", "mid", "pos")


def spoil(case, tmp_path) -> dict:
    """A train/dev pair of CSV files broken the way `case` says; returns its data params."""
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    write(TRAIN, train)
    write(DEV, dev)
    if case == "missing column":
        write(TRAIN.rename(columns={"review": "text"}), train)
    elif case == "unseen label":
        write(pd.DataFrame({"review": ["fine", "meh"], "stars": ["pos", "awful"]}), dev)
    elif case == "empty file":
        train.write_text("")
    elif case == "not utf-8":
        train.write_bytes("review,stars\nd\xe9j\xe0 vu,pos\n".encode("latin-1"))
    elif case == "duplicate header":
        train.write_text("review,stars,review\na,pos,b\n")
    elif case == "unknown format":
        train = tmp_path / "train.xlsx"
        train.write_text("x")
    return {"source": "local", "train_file": str(train), "validation_file": str(dev),
            "test_file": None}


BAD_FILES = [
    ("missing column", "has no column(s) ['review']; its columns are ['text', 'stars']"),
    ("unseen label", "line 3: label 'awful' never appears in the training split (labels: "
                     "['mid', 'neg', 'pos'])"),
    ("empty file", "train.csv is empty"),
    ("not utf-8", "train.csv is not UTF-8 text"),
    ("duplicate header", "the header names ['review'] more than once; rename them"),
    ("unknown format", "unknown format '.xlsx'; use .csv, .tsv, .jsonl, .parquet"),
]


@pytest.mark.parametrize("case, message", BAD_FILES, ids=[c for c, _ in BAD_FILES])
def test_a_bad_file_is_named_with_the_fix(case, message, tmp_path):
    with pytest.raises(PipelineError, match=re.escape(message)):
        load_own(own_task(SPEC), spoil(case, tmp_path), {})


def own_params(tmp_path, **changes):
    return default_params(**{"task": "own", "data.source": "local",
                             "data.train_file": write(TRAIN, tmp_path / "train.csv"),
                             "data.validation_file": write(DEV, tmp_path / "dev.csv"),
                             "data.test_file": write(DEV, tmp_path / "test.jsonl"),
                             "own.text_columns": ["review"], "own.label_column": "stars",
                             **changes})


def test_download_keeps_the_definition_that_later_stages_read(tmp_path, monkeypatch):
    workdir = tmp_path / "run"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    params = own_params(tmp_path, **{"own.metrics": ["macro_f1", "accuracy"]})
    run_download_with(workdir, params)
    info = json.loads((workdir / "data" / "prepared" / "task.json").read_text())
    assert info["own"]["labels"] == ["mid", "neg", "pos"]
    task = load_task(params)
    assert task.label_names == ("mid", "neg", "pos") and task.main_metric == "macro_f1"
    assert task.eval_splits == ("validation", "test")


@pytest.mark.parametrize("changes, message", [
    ({"data.source": "packaged"}, "task=own reads your files (-S data.source=local"),
    ({"data.validation_file": None}, "needs data.train_file and data.validation_file"),
    ({"own.text_columns": ["a", "b", "c"]}, "`own.text_columns` must list one text column"),
    ({"own.metrics": ["pearson"]}, "`own.metrics` for classification must be null or a list"),
    ({"own.kind": "regression", "own.labels": ["a", "b"]}, "`own.labels` must be null"),
    ({"data.source": "hub"}, "task=own with data.source=hub needs own.hub_dataset"),
])
def test_bad_own_params_are_refused_before_any_work(changes, message, tmp_path, monkeypatch):
    workdir = tmp_path / "run"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    with pytest.raises(PipelineError, match=re.escape(message)):
        run_download_with(workdir, own_params(tmp_path, **changes))
    assert [p.name for p in workdir.iterdir()] == ["params.yaml"]
