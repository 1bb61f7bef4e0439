import time

import pandas as pd
import pytest
from conftest import GLUE_DIR, needs_glue

from stages.lib.core.errors import PipelineError
from stages.lib.data.layouts import resolve_source
from stages.lib.data.sources import (
    load_hub,
    load_local,
    load_packaged,
    prepare,
    read_glue_tsv,
    split_rotten_tomatoes,
)
from stages.lib.tasks.kinds import REGRESSION
from stages.lib.tasks.registry import get_task


def write_tsv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join("\t".join(map(str, row)) for row in rows) + "\n", encoding="utf-8")


# ------------------------------------------------------------- the real GLUE copies in ../shared
@needs_glue
@pytest.mark.parametrize("name, train_rows, dev_rows", [
    ("sst2", 67349, 872), ("mrpc", 2576, 1500), ("stsb", 4249, 1500), ("cola", 8551, 1043),
    ("rte", 1244, 139)])
def test_local_glue_files_load_whole(name, train_rows, dev_rows):
    task = get_task(name)
    splits = prepare(load_local(task, str(GLUE_DIR)), task, None, None)
    assert (len(splits["train"]), len(splits["validation"])) == (train_rows, dev_rows)
    assert splits["train"]["text_a"].str.len().min() > 0
    pair = len(task.text_fields) == 2
    assert splits["validation"]["text_b"].notna().all() == pair


@needs_glue
def test_local_labels_become_indices_or_scores():
    rte = get_task("rte")
    splits = prepare(load_local(rte, str(GLUE_DIR)), rte, None, None)
    assert set(splits["train"]["label"]) == {0, 1}  # entailment / not_entailment
    stsb = get_task("stsb")
    scores = prepare(load_local(stsb, str(GLUE_DIR)), stsb, None, 10)["validation"]
    assert scores["label"].dtype == float and scores["label"].between(0, 5).all()


@needs_glue
def test_max_samples_take_a_fixed_sample():
    task = get_task("sst2")
    raw = load_local(task, str(GLUE_DIR))
    first = prepare(raw, task, 100, 50)
    again = prepare(raw, task, 100, 50)
    assert len(first["train"]) == 100 and len(first["validation"]) == 50
    pd.testing.assert_frame_equal(first["train"], again["train"])


@needs_glue
def test_holdout_rows_are_set_aside_from_training_before_the_sample():
    """data.holdout_rows: a fixed set of training rows that no model trains on, cut before
    max_train_samples, and the same for every seed."""
    task = get_task("cola")
    raw = load_local(task, str(GLUE_DIR))
    whole = prepare(raw, task, None, None, holdout_rows=500)
    assert list(whole) == ["train", "validation", "holdout"]
    assert (len(whole["holdout"]), len(whole["train"])) == (500, 8551 - 500)
    both = pd.concat([whole["train"], whole["holdout"]])["text_a"]
    assert sorted(both) == sorted(raw["train"]["text_a"])  # every row in exactly one of them
    sampled = prepare(raw, task, 1000, None, holdout_rows=500)
    pd.testing.assert_frame_equal(sampled["holdout"], whole["holdout"])
    assert len(sampled["train"]) == 1000
    assert set(sampled["train"]["text_a"]) <= set(whole["train"]["text_a"])
    assert "holdout" not in prepare(raw, task, None, None)
    with pytest.raises(PipelineError, match="`data.holdout_rows` 9000 leaves no training rows"):
        prepare(raw, task, None, None, holdout_rows=9000)


# ------------------------------------------------------------- layouts not in ../shared
def test_original_headerless_cola_layout(tmp_path):
    write_tsv(tmp_path / "CoLA" / "train.tsv", [["gj04", 1, "", "The sailors rode."],
                                                ["gj04", 0, "*", "Rode the sailors the."]])
    write_tsv(tmp_path / "CoLA" / "dev.tsv", [["gj04", 1, "", "It rained."]])
    splits = load_local(get_task("cola"), str(tmp_path))
    assert splits["train"]["text_a"].tolist() == ["The sailors rode.", "Rode the sailors the."]
    assert splits["train"]["label"].tolist() == ["1", "0"]


def test_mnli_reads_gold_label_and_both_dev_sets(tmp_path):
    header = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse",
              "sentence2_binary_parse", "sentence1_parse", "sentence2_parse", "sentence1",
              "sentence2", "label1", "gold_label"]

    def row(label):
        return [0, 1, 2, "fiction", "(", "(", "(", "(", "A man.", "A person.", label, label]
    for name in ("train", "dev_matched", "dev_mismatched"):
        write_tsv(tmp_path / "MNLI" / f"{name}.tsv", [header, row("entailment"),
                                                     row("contradiction")])
    task = get_task("mnli")
    splits = prepare(load_local(task, str(tmp_path)), task, None, None)
    assert set(splits) == {"train", "validation_matched", "validation_mismatched"}
    assert splits["validation_mismatched"]["label"].tolist() == [0, 2]
    assert splits["train"]["text_b"].tolist() == ["A person.", "A person."]


@pytest.mark.parametrize("name, folder, header, row, label", [
    ("qqp", "QQP", ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
     [1, 2, 3, "How?", "Why?", "1"], 1),
    ("qnli", "QNLI", ["index", "question", "sentence", "label"],
     [0, "Who?", "Him.", "not_entailment"], 1),
    ("wnli", "WNLI", ["index", "sentence1", "sentence2", "label"], [0, "I.", "Me.", "1"], 1),
])
def test_pair_task_layouts(tmp_path, name, folder, header, row, label):
    for split in ("train", "dev"):
        write_tsv(tmp_path / folder / f"{split}.tsv", [header, row])
    task = get_task(name)
    splits = prepare(load_local(task, str(tmp_path)), task, None, None)
    assert splits["validation"]["label"].tolist() == [label]
    assert splits["validation"]["text_b"].tolist() == [row[header.index(task.glue_columns[1])]]


# ------------------------------------------------------------- bad input
def test_missing_column_is_named(tmp_path):
    write_tsv(tmp_path / "SST-2" / "train.tsv", [["sentence", "polarity"], ["good", 1]])
    write_tsv(tmp_path / "SST-2" / "dev.tsv", [["sentence", "label"], ["good", 1]])
    with pytest.raises(PipelineError, match=r"train.tsv lacks column\(s\) \['label'\]"):
        load_local(get_task("sst2"), str(tmp_path))


def test_missing_file_names_the_layout(tmp_path):
    (tmp_path / "SST-2").mkdir()
    with pytest.raises(PipelineError, match="must hold SST-2/train.tsv"):
        load_local(get_task("sst2"), str(tmp_path))


def test_empty_split_is_refused(tmp_path):
    write_tsv(tmp_path / "SST-2" / "train.tsv", [["sentence", "label"], ["good", 1]])
    write_tsv(tmp_path / "SST-2" / "dev.tsv", [["sentence", "label"]])
    task = get_task("sst2")
    with pytest.raises(PipelineError, match="split 'validation' of sst2 is empty"):
        prepare(load_local(task, str(tmp_path)), task, None, None)


def test_unknown_label_is_refused_and_label_names_are_read_as_their_class(tmp_path):
    write_tsv(tmp_path / "SST-2" / "train.tsv", [["sentence", "label"], ["good", "great"]])
    write_tsv(tmp_path / "SST-2" / "dev.tsv", [["sentence", "label"], ["good", 1]])
    task = get_task("sst2")
    with pytest.raises(PipelineError, match="unknown label 'great'"):
        prepare(load_local(task, str(tmp_path)), task, None, None)
    write_tsv(tmp_path / "SST-2" / "train.tsv",
              [["sentence", "label"], ["good", "Positive"], ["bad", "negative"], ["ok", "1"]])
    train = prepare(load_local(task, str(tmp_path)), task, None, None)["train"]
    assert train["label"].tolist() == [1, 0, 1]


def test_short_row_and_non_utf8_are_refused(tmp_path):
    write_tsv(tmp_path / "RTE" / "train.tsv", [["index", "sentence1", "sentence2", "label"],
                                               [0, "A.", "entailment"]])
    with pytest.raises(PipelineError, match="line 2: 3 tab-separated fields"):
        read_glue_tsv(tmp_path / "RTE" / "train.tsv", get_task("rte"))
    (tmp_path / "bad.tsv").write_bytes(b"sentence\tlabel\n\xff\xfe\t1\n")
    with pytest.raises(PipelineError, match="is not UTF-8"):
        read_glue_tsv(tmp_path / "bad.tsv", get_task("sst2"))


def test_packaged_data_exists_only_for_rotten_tomatoes():
    with pytest.raises(PipelineError, match="task 'sst2' has no packaged data.*data.source=local"):
        load_packaged(get_task("sst2"))


def test_hub_data_while_offline_is_one_line_naming_both_ways_out():
    started = time.monotonic()
    with pytest.raises(PipelineError, match="could not load nyu-mll/glue \\(sst2\\) from the "
                                            "Hugging Face hub") as caught:
        load_hub(get_task("sst2"))
    assert "\n" not in str(caught.value)
    assert "connect to the internet, or use local files: -S data.source=local" in str(caught.value)
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("task, data, source", [
    ("rotten_tomatoes", {}, "packaged"),
    ("mrpc", {"dir": "/glue"}, "local"),
    ("squad", {"train_file": "train.json"}, "local"),
    ("squad", {}, "hub"),
    ("mrpc", {"source": "hub", "dir": "/glue"}, "hub"),  # an explicit source is kept
])
def test_auto_source_is_packaged_then_local_files_then_the_hub(task, data, source):
    assert resolve_source({"source": "auto", "dir": None, "train_file": None, **data},
                          task) == source


# ------------------------------------------------------------- the packaged Rotten Tomatoes split
def test_rotten_tomatoes_split_drops_plots_duplicates_and_conflicts():
    raw = pd.DataFrame({
        "category": ["fresh", "fresh", "rotten", "plot", "fresh", "rotten"] + ["fresh"] * 24,
        "text": ["great", "great ", "awful", "a plot", "mixed", "mixed"]
                + [f"ok {i}" for i in range(24)]})
    splits = split_rotten_tomatoes(raw)
    everything = pd.concat(splits.values())
    assert sorted(everything["text_a"])[:3] == ["awful", "great", "ok 0"]
    assert "mixed" not in set(everything["text_a"]) and "a plot" not in set(everything["text_a"])
    assert len(everything) == 26 and everything["text_a"].is_unique
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [22, 2, 2]
    again = split_rotten_tomatoes(raw)
    pd.testing.assert_frame_equal(splits["validation"], again["validation"])


@pytest.mark.parametrize("name, columns", [
    ("sst2", {"sentence": ["fine", "bad"]}),
    ("mnli", {"premise": ["A man.", "A dog."], "hypothesis": ["A person.", "A cat."]}),
    ("stsb", {"sentence1": ["A.", "B."], "sentence2": ["C.", "D."]}),
])
def test_hub_columns_map_to_the_prepared_layout(monkeypatch, name, columns):
    """The hub path with `load_dataset` answered locally, in the hub's own schema."""
    import datasets
    task = get_task(name)
    labels = [3.8, 0.5] if task.kind is REGRESSION else [1, 0]
    fake = datasets.DatasetDict({split: datasets.Dataset.from_dict({**columns, "label": labels})
                                 for split in task.splits})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args: calls.append(args) or fake)
    splits = prepare(load_hub(task), task, None, None)
    assert calls == [task.hub]
    first, *second = columns.values()
    assert splits[task.eval_splits[-1]]["text_a"].tolist() == first
    assert splits["train"]["text_b"].tolist() == (second[0] if second else [None, None])
    assert splits["train"]["label"].tolist() == labels


# ------------------------------------------------------------- XNLI layouts (XNLI-1.0, XNLI-MT-1.0)
XNLI_EVAL_HEADER = ["language", "gold_label", "sentence1_binary_parse", "sentence2_binary_parse",
                    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "promptID",
                    "pairID", "genre", "label1", "label2", "label3", "label4", "label5",
                    "sentence1_tokenized", "sentence2_tokenized", "match"]


def xnli_eval_row(language, label, premise, hypothesis):
    return [language, label, "(", "(", "(", "(", premise, hypothesis, 1, 2, "facetoface",
            label, label, label, label, label, premise, hypothesis, "True"]


def write_xnli(root, languages=("en", "zh")):
    for language in languages:
        write_tsv(root / "XNLI-MT-1.0" / "multinli" / f"multinli.train.{language}.tsv",
                  [["premise", "hypo", "label"],
                   [f"{language} p1", f"{language} h1", "contradictory"],
                   [f"{language} p2", f"{language} h2", "entailment"],
                   [f"{language} p3 \"quoted", f"{language} h3", "neutral"]])
    for split in ("dev", "test"):
        write_tsv(root / "XNLI-1.0" / f"xnli.{split}.tsv", [XNLI_EVAL_HEADER] + [
            xnli_eval_row("en", "neutral", f"en {split} premise", "en hypothesis"),
            xnli_eval_row("zh", "contradiction", f"他 {split}", "她"),
            xnli_eval_row("zh", "entailment", f"我 {split}", "你")])


def test_xnli_trains_on_the_translation_and_evaluates_on_one_language(tmp_path):
    write_xnli(tmp_path)
    task = get_task("xnli")
    raw = load_local(task, str(tmp_path), {"language": "zh", "train_language": "en"})
    splits = prepare(raw, task, None, None)
    assert set(splits) == {"train", "validation", "test"}
    assert splits["train"]["text_a"].tolist() == ["en p1", "en p2", 'en p3 "quoted']
    assert splits["train"]["label"].tolist() == [2, 0, 1]  # "contradictory" is contradiction
    assert splits["validation"]["text_a"].tolist() == ["他 dev", "我 dev"]
    assert splits["test"]["text_b"].tolist() == ["她", "你"]
    assert splits["test"]["label"].tolist() == [2, 0]


def test_xnli_missing_language_or_files_are_named(tmp_path):
    write_xnli(tmp_path, languages=("en",))
    task = get_task("xnli")
    with pytest.raises(PipelineError, match="multinli.train.zh.tsv not found.*XNLI-MT-1.0"):
        load_local(task, str(tmp_path), {"language": "zh", "train_language": "zh"})
    with pytest.raises(PipelineError, match="no rows for xnli.language='fr'"):
        load_local(task, str(tmp_path), {"language": "fr", "train_language": "en"})


def test_xnli_hub_loads_one_config_per_language(monkeypatch):
    import datasets
    task = get_task("xnli")

    def fake(path, language):
        rows = {"premise": [f"{language} p"], "hypothesis": [f"{language} h"], "label": [2]}
        return datasets.DatasetDict({split: datasets.Dataset.from_dict(rows)
                                     for split in ("train", "validation", "test")})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda *args: calls.append(args) or fake(*args))
    splits = prepare(load_hub(task, {"language": "zh", "train_language": "en"}), task,
                          None, None)
    assert sorted(calls) == [("facebook/xnli", "en"), ("facebook/xnli", "zh")]
    assert splits["train"]["text_a"].tolist() == ["en p"]
    assert splits["test"]["text_b"].tolist() == ["zh h"]


def test_squad_hub_schema_maps_to_the_prepared_layout(monkeypatch):
    import datasets
    task = get_task("squad_v2")
    rows = {"id": ["a", "b"], "title": ["T", "T"], "context": ["Paris is big.", "Paris is big."],
            "question": ["What is big?", "Who?"],
            "answers": [{"text": ["Paris"], "answer_start": [0]}, {"text": [], "answer_start": []}]}
    fake = datasets.DatasetDict({split: datasets.Dataset.from_dict(rows) for split in task.splits})
    monkeypatch.setattr(datasets, "load_dataset", lambda *args: fake)
    splits = prepare(load_hub(task), task, None, None)
    assert splits["validation"]["label"].tolist() == [
        {"text": ["Paris"], "answer_start": [0]}, {"text": [], "answer_start": []}]
    assert splits["train"]["text_a"].tolist() == ["What is big?", "Who?"]
    squad_v1 = prepare(load_hub(get_task("squad")), get_task("squad"), None, None)
    assert squad_v1["validation"]["id"].tolist() == ["a"]  # v1.1 keeps answerable questions
