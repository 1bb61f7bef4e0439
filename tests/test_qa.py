"""Question answering: windows and offsets, the n-best answer search, the official metric."""
import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA
from transformers import AutoTokenizer

from stages.lib.core.errors import PipelineError
from stages.lib.data.prepared import read_split, write_prepared
from stages.lib.data.sources import load_local, prepare
from stages.lib.data.squad_json import read_squad_json
from stages.lib.modeling.features import eval_split
from stages.lib.quantization.accuracy_control import row_feeds
from stages.lib.tasks.kinds import InputSettings
from stages.lib.tasks.qa import (
    QASettings,
    context_span,
    eval_features,
    postprocess,
    tokenize_windows,
    train_features,
)
from stages.lib.tasks.registry import get_task
from stages.lib.tasks.squad_metric import (
    best_threshold,
    evaluate,
    exact_match,
    f1,
    normalize_answer,
)

SQUAD_FILE = SHARED_DATA / "squad" / "dev-v2.0-5-articles.json"
needs_squad = pytest.mark.skipif(not SQUAD_FILE.is_file(), reason=f"no {SQUAD_FILE}")


def qa_frame(rows):
    """rows: (question, context, [answers]); answer_start is found in the context."""
    return pd.DataFrame([{"id": f"q{i}", "title": "t", "text_a": question, "text_b": context,
                          "label": {"text": answers,
                                    "answer_start": [context.index(a) for a in answers]}}
                         for i, (question, context, answers) in enumerate(rows)])


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)  # one token per character


def answer_of(feature, context, offsets):
    return context[offsets[feature["start_positions"]][0]:offsets[feature["end_positions"]][1]]


# ------------------------------------------------------------- windows and offsets
def test_long_context_becomes_overlapping_windows_that_keep_the_question(tokenizer):
    context = " ".join(f"{i % 10}" for i in range(300))  # 300 one-character tokens
    settings = QASettings(max_seq_length=64, doc_stride=16, max_question_length=8)
    encoded = tokenize_windows(tokenizer, qa_frame([("why?", context, [])]), settings)
    windows = encoded["input_ids"]
    assert len(windows) > 1 and all(len(w) <= 64 for w in windows)
    spans = [context_span(encoded.sequence_ids(i)) for i in range(len(windows))]
    offsets = encoded["offset_mapping"]
    starts = [offsets[i][first][0] for i, (first, _) in enumerate(spans)]
    ends = [offsets[i][last][1] for i, (_, last) in enumerate(spans)]
    assert starts[0] == 0 and ends[-1] == len(context)  # the whole context is covered
    for i in range(1, len(windows)):  # consecutive windows overlap by doc_stride tokens
        assert ends[i - 1] - starts[i] == 2 * 16 - 1
    for i, window in enumerate(windows):
        assert window[:6] == tokenizer("why?")["input_ids"]  # [CLS] w h y ? [SEP]


def test_answer_at_a_window_boundary_is_labelled_only_where_it_fits_whole(tokenizer):
    context = "a " * 20 + "target" + " b" * 30  # "target" is characters 40-46, 6 tokens
    settings = QASettings(max_seq_length=48, doc_stride=20, max_question_length=8)
    frame = qa_frame([("q?", context, ["target"])])
    features = train_features(tokenizer, frame, settings)
    encoded = tokenize_windows(tokenizer, frame, settings)
    whole, cut = 0, 0
    for feature, offsets in zip(features, encoded["offset_mapping"]):
        first, last = context_span(encoded.sequence_ids(features.index(feature)))
        covers = offsets[first][0] <= 40 and offsets[last][1] >= 46
        if covers:
            whole += 1
            assert answer_of(feature, context, offsets) == "target"
        else:
            cut += 1  # the answer is outside or straddles the window edge: point at [CLS]
            assert feature["start_positions"] == feature["end_positions"] == 0
    assert whole >= 1 and cut >= 1


def test_unicode_and_whitespace_map_back_to_the_exact_context_text(tokenizer):
    rows = [("  where?", "Tokyo  (東京) is  big; café   crème is   served.", ["東京"]),
            ("what?\t", "naïve  résumé\nwith\ttabs and  spaces", ["résumé\nwith"]),
            ("who?", "  leading spaces then Zoë.", ["Zoë"])]
    frame = qa_frame(rows)
    settings = QASettings(max_seq_length=128, doc_stride=32, max_question_length=16)
    features = train_features(tokenizer, frame, settings)
    encoded = tokenize_windows(tokenizer, frame, settings)
    for i, feature in enumerate(features):
        row = frame.iloc[encoded["overflow_to_sample_mapping"][i]]
        assert answer_of(feature, row["text_b"], encoded["offset_mapping"][i]) == \
            row["label"]["text"][0]


def test_long_questions_are_cut_and_a_stride_without_room_is_refused(tokenizer):
    frame = qa_frame([("w" * 100 + "?", "some context here", ["context"])])
    settings = QASettings(max_seq_length=64, doc_stride=16, max_question_length=20)
    features = train_features(tokenizer, frame, settings)
    assert features[0]["input_ids"].index(tokenizer.sep_token_id) == 21  # [CLS] + 20 tokens
    with pytest.raises(PipelineError, match="`qa.doc_stride` \\(40\\) must be smaller than the "
                                            "context room of a window \\(21 tokens"):
        train_features(tokenizer, frame, QASettings(64, 40, 40))


# ------------------------------------------------------------- n-best post-processing
def window(offsets, start_logits, end_logits):
    return {"offsets": offsets}, np.array(start_logits, float), np.array(end_logits, float)


def test_best_span_across_windows_respects_order_and_max_length():
    context = "zero one two three"
    frame = qa_frame([("q", context, ["two"])])
    offsets = [None, (0, 4), (5, 8), (9, 12), (13, 18), None]
    w1 = window(offsets, [0, 1, 0, 0, 9, 0], [0, 0, 8, 0, 0, 0])  # best is end < start: invalid
    w2 = window(offsets, [0, 0, 0, 5, 0, 0], [0, 0, 0, 5, 0, 0])  # "two", score 10
    windows = [{**w1[0], "example": 0}, {**w2[0], "example": 0}]
    settings = QASettings(n_best_size=3, max_answer_length=30)
    answers, _ = postprocess(frame, windows, [w1[1], w2[1]], [w1[2], w2[2]], settings, False)
    assert answers == {"q0": "two"}
    # "one two three" would win on score but is 3 tokens long.
    w3 = window(offsets, [0, 0, 20, 0, 0, 0], [0, 0, 0, 0, 20, 0])
    short = QASettings(n_best_size=3, max_answer_length=2)
    answers, _ = postprocess(frame, [{**w3[0], "example": 0}], [w3[1]], [w3[2]], short, False)
    assert answers["q0"] in {"one", "three", "one two"}
    long = QASettings(n_best_size=3, max_answer_length=3)
    answers, _ = postprocess(frame, [{**w3[0], "example": 0}], [w3[1]], [w3[2]], long, False)
    assert answers["q0"] == "one two three"


def test_squad_v2_answers_null_when_its_score_beats_the_best_span_by_the_threshold():
    frame = qa_frame([("q", "alpha beta", ["beta"])])
    offsets = [None, (0, 5), (6, 10), None]
    w = window(offsets, [4, 0, 3, 0], [4, 0, 3, 0])  # null 8, best span "beta" 6
    args = (frame, [{**w[0], "example": 0}], [w[1]], [w[2]])
    answers, odds = postprocess(*args, QASettings(null_score_diff_threshold=0.0), True)
    assert answers == {"q0": ""} and odds == {"q0": (2.0, "beta")}
    answers, _ = postprocess(*args, QASettings(null_score_diff_threshold=2.5), True)
    assert answers == {"q0": "beta"}


def oracle_result(tokenizer, task, settings, limit=40) -> dict:
    """Logits that peak at the training targets, decoded and scored like a model's."""
    raw = load_local(task, None, {"train_file": str(SQUAD_FILE), "validation_articles": 1})
    frame = prepare(raw, task, limit, limit)["validation"]
    targets = train_features(tokenizer, frame, settings)
    items, windows = eval_features(tokenizer, frame, settings)
    assert len(targets) == len(items)
    starts, ends = [], []
    for target, item in zip(targets, items):
        start, end = np.full(len(item["input_ids"]), -10.0), np.full(len(item["input_ids"]), -10.0)
        start[target["start_positions"]] = end[target["end_positions"]] = 10.0
        starts.append(start)
        ends.append(end)
    answers, odds = postprocess(frame, windows, starts, ends, settings, task.squad_version == 2)
    result = evaluate(frame, answers, odds if task.squad_version == 2 else None)
    return {**result, "windows": len(items), "questions": len(frame)}


@needs_squad
@pytest.mark.parametrize("name", ["squad", "squad_v2"])
def test_oracle_logits_give_a_perfect_score_on_real_squad(tokenizer, name):
    """Targets -> logits -> answers must give back the gold answers exactly."""
    settings = QASettings(max_seq_length=128, doc_stride=32, max_question_length=32,
                          max_answer_length=200)
    result = oracle_result(tokenizer, get_task(name), settings)
    assert result["windows"] > result["questions"]  # real contexts need several windows here
    assert result["exact"] == result["f1"] == 100.0
    if name == "squad_v2":
        assert result["NoAns_exact"] == result["HasAns_exact"] == 100.0


@needs_squad
def test_accuracy_control_scores_each_question_from_all_its_windows(tokenizer):
    """ptq_accuracy's rows are questions: one feed holds every window of a question, a subset
    of questions in any order is scored from its own windows, each question by its F1."""
    task = get_task("squad")
    qa = QASettings(max_seq_length=128, doc_stride=32, max_question_length=32,
                    max_answer_length=200)
    settings = InputSettings(qa.max_seq_length, qa)
    raw = load_local(task, None, {"train_file": str(SQUAD_FILE), "validation_articles": 1})
    frame = prepare(raw, task, 12, 12)["validation"]
    split = eval_split(tokenizer, frame, task, settings, batch_size=1)
    groups = task.kind.row_groups(split)
    assert len(groups) == len(frame) and max(map(len, groups)) > 1
    assert sorted(i for group in groups for i in group) == list(range(len(split.windows)))
    feeds = row_feeds(split.loader, groups, ["input_ids", "attention_mask"])
    assert [feed["input_ids"].shape[0] for feed in feeds] == list(map(len, groups))

    # oracle logits for every question but the second, which answers its first context token
    targets = train_features(tokenizer, frame, qa)
    starts, ends = [], []
    for window, target, item in zip(split.windows, targets, split.loader.dataset):
        start, end = np.full(len(item["input_ids"]), -10.0), np.full(len(item["input_ids"]), -10.0)
        first = next(k for k, offset in enumerate(window["offsets"]) if offset is not None)
        start[first if window["example"] == 1 else target["start_positions"]] = 10.0
        end[first if window["example"] == 1 else target["end_positions"]] = 10.0
        starts.append(start)
        ends.append(end)
    outputs = {"start_logits": starts, "end_logits": ends}
    scores = task.kind.example_scores(outputs, split, task, settings)
    assert scores[1] == 0.0 and scores[:1] + scores[2:] == [100.0] * (len(frame) - 1)

    picked = [2, 1, 0]  # NNCF asks for rows in any order; outputs come in that order
    subset = task.kind.rows(split, picked)
    order = [w for row in picked for w in groups[row]]
    outputs = {name: [values[w] for w in order] for name, values in outputs.items()}
    assert task.kind.example_scores(outputs, subset, task, settings) == [100.0, 0.0, 100.0]
    assert task.kind.score(outputs, subset, task, settings)["f1"] == pytest.approx(200 / 3, 1e-3)


# ------------------------------------------------------------- the official metric
def test_answer_normalisation_drops_case_punctuation_articles_and_spacing():
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalize_answer("an apple a day") == "apple day"
    assert normalize_answer("Theatre") == "theatre"  # only whole-word articles


def test_exact_and_f1_by_hand():
    assert exact_match("the Norman conquest", "Norman Conquest.") == 1
    # gold {cat, sat}, prediction {cat, sat, down}: precision 2/3, recall 1 -> F1 0.8
    assert f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    assert f1("in 1066", "1067") == 0.0
    assert f1("", "") == 1.0 and f1("", "something") == 0.0


def test_evaluate_takes_the_best_gold_answer_and_splits_has_and_no_answer():
    frame = qa_frame([("q", "in the 10th and 11th centuries", ["10th and 11th centuries",
                                                                "in the 10th and 11th centuries"]),
                      ("q", "no answer here", [])])
    predictions = {"q0": "the 10th and 11th centuries", "q1": ""}
    result = evaluate(frame, predictions)
    assert result == {"exact": 100.0, "f1": 100.0}  # "in the 10th..." matches after "the" goes
    odds = {"q0": (-3.0, "the 10th and 11th centuries"), "q1": (2.0, "here")}
    v2 = evaluate(frame, predictions, odds)
    assert v2["HasAns_exact"] == v2["NoAns_exact"] == 100.0
    assert v2["best_exact"] == 100.0 and -3.0 <= v2["best_exact_thresh"] < 2.0


def test_best_threshold_by_hand():
    # Null odds sorted: a(-1, right answer), b(0.5, no-answer question answered), c(2, wrong).
    has_answer = {"a": True, "b": False, "c": True}
    scores = {"a": 1.0, "b": 0.0, "c": 0.0}
    odds = {"a": -1.0, "b": 0.5, "c": 2.0}
    answered = {"a": "x", "b": "y", "c": "z"}
    # all null: 1/3; answer a: 2/3 (best, threshold -1); then b costs 1, c gains 0.
    value, threshold = best_threshold(scores, odds, has_answer, answered)
    assert value == pytest.approx(200 / 3) and threshold == -1.0


# ------------------------------------------------------------- SQuAD files
@needs_squad
def test_held_out_article_and_v1_answerable_only():
    options = {"train_file": str(SQUAD_FILE), "validation_articles": 1}
    v2 = prepare(load_local(get_task("squad_v2"), None, options), get_task("squad_v2"),
                      None, None)
    v1 = prepare(load_local(get_task("squad"), None, options), get_task("squad"),
                      None, None)
    assert len(v2["train"]) + len(v2["validation"]) == 1407
    assert len(v1["train"]) + len(v1["validation"]) == 705
    assert set(v1["validation"]["title"]) == {"Victoria_(Australia)"}
    assert "Victoria_(Australia)" not in set(v1["train"]["title"])
    assert v1["validation"]["label"].map(lambda a: len(a["text"]) > 0).all()
    named = load_local(get_task("squad"), None,
                            {"train_file": str(SQUAD_FILE), "validation_articles": ["Normans"]})
    assert set(named["validation"]["title"]) == {"Normans"}


@needs_squad
def test_holdout_rows_of_question_answering_are_whole_articles():
    """No context is both trained on and held out: data.holdout_rows takes whole articles
    until it has at least that many questions."""
    task = get_task("squad")
    raw = load_local(task, None, {"train_file": str(SQUAD_FILE), "validation_articles": 1})
    splits = prepare(raw, task, None, None, holdout_rows=50)
    aside, kept = set(splits["holdout"]["title"]), set(splits["train"]["title"])
    assert len(aside) == 1 and not aside & kept
    assert len(splits["holdout"]) >= 50
    assert len(splits["train"]) + len(splits["holdout"]) == \
        len(prepare(raw, task, None, None)["train"])


def write_squad(path, articles):
    import json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.1", "data": articles}))


def article(title, context, answer, start=None, qid="1"):
    start = context.index(answer) if start is None else start
    return {"title": title, "paragraphs": [{"context": context, "qas": [
        {"id": qid, "question": "Q?", "answers": [{"text": answer, "answer_start": start}]}]}]}


def test_data_dir_layout_and_prepared_round_trip(tmp_path):
    write_squad(tmp_path / "train-v1.1.json", [article("A", "Paris is in France.", "France")])
    write_squad(tmp_path / "dev-v1.1.json", [article("B", "Rome, Italy.", "Italy", qid="2")])
    task = get_task("squad")
    splits = prepare(load_local(task, str(tmp_path)), task, None, None)
    write_prepared(splits, task, "local", tmp_path / "prepared")
    back = read_split(tmp_path / "prepared", "validation")
    assert back.iloc[0]["label"] == {"text": ["Italy"], "answer_start": [6]}
    assert back.iloc[0]["id"] == "2" and back.iloc[0]["text_b"] == "Rome, Italy."


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not a SQuAD file"),
    ('{"version": "1.1"}', "is not a SQuAD file"),
    ('{"data": [{"paragraphs": [{"qas": [{"id": 1, "question": "Q?", "answers": []}]}]}]}',
     "malformed SQuAD entry \\(KeyError: 'context'\\)"),
])
def test_malformed_squad_files_are_refused(tmp_path, content, message):
    (tmp_path / "train-v1.1.json").write_text(content)
    with pytest.raises(PipelineError, match=message):
        read_squad_json(tmp_path / "train-v1.1.json")


def test_answer_offsets_that_miss_their_text_are_refused(tmp_path):
    write_squad(tmp_path / "train-v1.1.json", [article("A", "Paris is in France.", "France", 3)])
    write_squad(tmp_path / "dev-v1.1.json", [article("B", "Rome, Italy.", "Italy", qid="2")])
    task = get_task("squad")
    with pytest.raises(PipelineError, match="question 1: answer 'France' is not at character 3"):
        prepare(load_local(task, str(tmp_path)), task, None, None)


def test_missing_squad_file_and_unknown_article_are_named(tmp_path):
    task = get_task("squad")
    with pytest.raises(PipelineError, match="train-v1.1.json not found"):
        load_local(task, str(tmp_path))
    write_squad(tmp_path / "train-v1.1.json", [article("A", "Paris is in France.", "France"),
                                                article("B", "Rome, Italy.", "Italy", qid="2")])
    with pytest.raises(PipelineError, match="unknown: \\['Atlantis'\\]"):
        load_local(task, str(tmp_path), {"validation_articles": ["Atlantis"]})
    with pytest.raises(PipelineError, match="some but not all"):
        load_local(task, str(tmp_path), {"validation_articles": 2})
