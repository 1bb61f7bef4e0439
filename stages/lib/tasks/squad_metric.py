"""The SQuAD file format and the official SQuAD v1.1 / v2.0 evaluation.

The metric follows the official `evaluate-v2.0.py` (which equals v1.1 on answerable
questions): answers are normalised (lower case, no punctuation, no articles, single spaces),
each question scores its best match over the gold answers, and a question with no answer
scores 1 only for an empty prediction.
"""
import collections
import re
import string

import pandas as pd


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def f1(gold: str, prediction: str) -> float:
    gold_tokens, pred_tokens = normalize_answer(gold).split(), normalize_answer(prediction).split()
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)  # no-answer: right only if both are empty
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def gold_answers(answers: dict) -> list:
    texts = [text for text in answers["text"] if normalize_answer(text)]
    return texts or [""]


def question_scores(answers: dict, prediction: str) -> tuple:
    golds = gold_answers(answers)
    return (max(exact_match(g, prediction) for g in golds),
            max(f1(g, prediction) for g in golds))


def best_threshold(scores: dict, null_odds: dict, has_answer: dict, answered: dict) -> tuple:
    """The official `find_best_thresh`: the no-answer threshold that maximises the metric,
    given each question's best non-null prediction (`answered`) and its null odds."""
    best = current = sum(1 for qid in has_answer if not has_answer[qid])
    threshold = 0.0
    for qid in sorted(null_odds, key=null_odds.get):
        if has_answer[qid]:
            current += scores[qid]
        elif answered[qid]:
            current -= 1
        if current > best:
            best, threshold = current, null_odds[qid]
    return 100.0 * best / len(scores), threshold


def evaluate(frame: pd.DataFrame, predictions: dict, null_odds: dict | None = None) -> dict:
    """Exact match and F1 in percent; with `null_odds` (SQuAD 2.0) also the HasAns / NoAns
    breakdown and the best threshold. `predictions` maps id -> text ("" = no answer);
    `null_odds` maps id -> (null score - best span score, best non-null text)."""
    exact, f1s, has_answer = {}, {}, {}
    for row in frame.itertuples():
        exact[row.id], f1s[row.id] = question_scores(row.label, predictions[row.id])
        has_answer[row.id] = bool(gold_answers(row.label)[0])
    result = {"exact": 100.0 * sum(exact.values()) / len(exact),
              "f1": 100.0 * sum(f1s.values()) / len(f1s)}
    if null_odds is None:
        return result
    for name, wanted in (("HasAns", True), ("NoAns", False)):
        ids = [qid for qid in exact if has_answer[qid] == wanted]
        if ids:
            result[f"{name}_exact"] = 100.0 * sum(exact[q] for q in ids) / len(ids)
            result[f"{name}_f1"] = 100.0 * sum(f1s[q] for q in ids) / len(ids)
    odds = {qid: diff for qid, (diff, _) in null_odds.items()}
    answered = {qid: text for qid, (_, text) in null_odds.items()}
    non_null = {row.id: question_scores(row.label, answered[row.id]) for row in frame.itertuples()}
    for index, name in ((0, "exact"), (1, "f1")):
        value, threshold = best_threshold({q: s[index] for q, s in non_null.items()}, odds,
                                          has_answer, answered)
        result[f"best_{name}"], result[f"best_{name}_thresh"] = value, threshold
    return result
