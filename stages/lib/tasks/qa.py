"""Extractive question answering: long contexts cut into overlapping windows, and the
windows' start/end logits turned back into one answer per question.

Both halves follow the reference `run_qa.py` of transformers (the NNCF patch's SQuAD script):
windows of `max_seq_length` tokens that overlap by `doc_stride`, question first (at most
`max_question_length` tokens, as in the original BERT script) and only the context truncated;
n-best start/end search with a maximum answer length, the answer text cut from the original
context through the offset mapping, the best window winning per question, and for SQuAD 2.0
the null answer when its score beats the best span by the threshold.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import PipelineError

QA_COLUMNS = ["id", "title", "text_a", "text_b", "label"]  # text_a question, text_b context


@dataclass(frozen=True)
class QASettings:
    max_seq_length: int = 384
    doc_stride: int = 128
    max_question_length: int = 64
    max_answer_length: int = 30
    n_best_size: int = 20
    null_score_diff_threshold: float = 0.0

    @classmethod
    def from_params(cls, section: dict):
        return cls(**section)

    def check_room(self, special_tokens: int = 3) -> None:
        """A window must hold context beyond the stride: BERT's pair input spends 3 tokens on
        [CLS] question [SEP] context [SEP]; a tokenizer knows its own count."""
        room = self.max_seq_length - self.max_question_length - special_tokens
        if self.doc_stride >= room:
            raise PipelineError(
                f"`qa.doc_stride` ({self.doc_stride}) must be smaller than the context room of "
                f"a window ({room} tokens: qa.max_seq_length - qa.max_question_length - "
                f"{special_tokens} special tokens); lower it")


def shorten_questions(tokenizer, questions: list, max_tokens: int) -> list:
    """Questions cut to `max_tokens` tokens (the original BERT script's max_query_length), so
    every window keeps room for context beyond the stride."""
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [question if len(offsets) <= max_tokens else question[:offsets[max_tokens - 1][1]]
            for question, offsets in zip(questions, encoded["offset_mapping"])]


def tokenize_windows(tokenizer, frame: pd.DataFrame, settings: QASettings):
    if not tokenizer.is_fast:
        raise PipelineError("question answering needs a fast tokenizer (offset mappings); "
                            "the model folder lacks tokenizer.json and has no fast converter")
    settings.check_room(tokenizer.num_special_tokens_to_add(pair=True))
    # Leading spaces in questions eat window room for nothing (run_qa strips them too).
    questions = shorten_questions(tokenizer, [q.lstrip() for q in frame["text_a"]],
                                  settings.max_question_length)
    return tokenizer(questions, frame["text_b"].tolist(), truncation="only_second",
                     max_length=settings.max_seq_length, stride=settings.doc_stride,
                     return_overflowing_tokens=True, return_offsets_mapping=True)


def context_span(sequence_ids: list) -> tuple:
    """First and last token index of the context (sequence 1) in a window."""
    indices = [i for i, sequence in enumerate(sequence_ids) if sequence == 1]
    return indices[0], indices[-1]


def train_features(tokenizer, frame: pd.DataFrame, settings: QASettings) -> list:
    """Model inputs with `start_positions` / `end_positions`: the answer's token span, or the
    [CLS] token (index 0) when the window does not hold the whole answer or there is none."""
    encoded = tokenize_windows(tokenizer, frame, settings)
    answers = frame["label"].tolist()
    inputs = [name for name in tokenizer.model_input_names if name in encoded]
    features = []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        feature = {name: encoded[name][i] for name in inputs}
        cls_index = feature["input_ids"].index(tokenizer.cls_token_id)
        start = end = cls_index
        answer = answers[encoded["overflow_to_sample_mapping"][i]]
        if answer["text"]:
            start_char = answer["answer_start"][0]
            end_char = start_char + len(answer["text"][0])
            first, last = context_span(encoded.sequence_ids(i))
            if offsets[first][0] <= start_char and offsets[last][1] >= end_char:
                start = first
                while start <= last and offsets[start][0] <= start_char:
                    start += 1
                start -= 1
                end = last
                while end >= first and offsets[end][1] >= end_char:
                    end -= 1
                end += 1
        features.append({**feature, "start_positions": start, "end_positions": end})
    return features


def eval_features(tokenizer, frame: pd.DataFrame, settings: QASettings) -> tuple:
    """(model inputs, windows): each window knows its question (row index) and the character
    offsets of its context tokens (None elsewhere), which post-processing maps answers with."""
    encoded = tokenize_windows(tokenizer, frame, settings)
    inputs = [name for name in tokenizer.model_input_names if name in encoded]
    items, windows = [], []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        items.append({name: encoded[name][i] for name in inputs})
        sequence_ids = encoded.sequence_ids(i)
        windows.append({"example": encoded["overflow_to_sample_mapping"][i],
                        "offsets": [tuple(o) if sequence_ids[k] == 1 else None
                                    for k, o in enumerate(offsets)]})
    return items, windows


def best_spans(start_logits, end_logits, offsets, settings: QASettings) -> list:
    """(score, start_char, end_char) of the n-best valid spans in one window."""
    length = len(offsets)
    start_logits, end_logits = np.asarray(start_logits)[:length], np.asarray(end_logits)[:length]
    starts = np.argsort(start_logits)[::-1][:settings.n_best_size]
    ends = np.argsort(end_logits)[::-1][:settings.n_best_size]
    spans = []
    for s in starts:
        for e in ends:
            if offsets[s] is None or offsets[e] is None or e < s:
                continue
            if e - s + 1 > settings.max_answer_length:
                continue
            spans.append((float(start_logits[s] + end_logits[e]), offsets[s][0], offsets[e][1]))
    return spans


def postprocess(frame: pd.DataFrame, windows: list, start_logits: list, end_logits: list,
                settings: QASettings, with_null: bool) -> tuple:
    """(predictions, null_odds): id -> answer text for every question, and for SQuAD 2.0
    id -> (null score - best span score, best span text) for the official threshold search."""
    by_example = {}
    for window, start, end in zip(windows, start_logits, end_logits):
        by_example.setdefault(window["example"], []).append((window["offsets"], start, end))
    predictions, null_odds = {}, {}
    for index, row in enumerate(frame.itertuples()):
        spans, null_score = [], None
        for offsets, start, end in by_example.get(index, []):
            spans += best_spans(start, end, offsets, settings)
            window_null = float(start[0] + end[0])  # [CLS] is token 0
            null_score = window_null if null_score is None else min(null_score, window_null)
        if spans:
            score, first_char, last_char = max(spans)
            text = row.text_b[first_char:last_char]
        else:
            score, text = float("-inf"), ""
        predictions[row.id] = text
        if with_null:
            diff = null_score - score
            null_odds[row.id] = (diff, text)
            if diff > settings.null_score_diff_threshold:
                predictions[row.id] = ""
    return predictions, null_odds


def check_answers(frame: pd.DataFrame, where: str) -> None:
    """Every answer must be the context text at its offset; training relies on it."""
    for row in frame.itertuples():
        for text, start in zip(row.label["text"], row.label["answer_start"]):
            if row.text_b[start:start + len(text)] != text:
                raise PipelineError(f"{where}: question {row.id}: answer {text!r} is not at "
                                    f"character {start} of its context; fix answer_start")
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        raise PipelineError(f"{where}: question id {duplicated.iloc[0]!r} appears twice")


def answerable_only(frame: pd.DataFrame) -> pd.DataFrame:
    """SQuAD v1.1 has no unanswerable questions; v2.0 data keeps only its answerable ones."""
    return frame[frame["label"].map(lambda answers: len(answers["text"]) > 0)]
