"""Task kinds: what differs between classification, regression and extractive question
answering, decided here once.

A task's kind owns its model head, its prepared columns and label checks, its model inputs,
its scores, what a served model answers and the examples in a model card. Code outside
tasks/ calls `task.kind.<method>` and never asks which kind a task is.
"""
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import softmax
from transformers import (
    AutoConfig,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
)

from ..core.errors import PipelineError
from .labels import head_rows, labels_as_indices
from .metrics import METRICS
from .qa import (
    QA_COLUMNS,
    QASettings,
    answerable_only,
    check_answers,
    eval_features,
    postprocess,
    train_features,
)
from .squad_metric import evaluate, question_scores

COLUMNS = ["text_a", "text_b", "label"]


@dataclass(frozen=True)
class InputSettings:
    max_length: int
    qa: QASettings | None = None  # windowing and answer search, for question answering


def encode(tokenizer, frame: pd.DataFrame, max_length: int, with_labels=True) -> list:
    """One model input per row: text_a, with text_b as its pair when the task has one."""
    texts_b = frame["text_b"].tolist() if frame["text_b"].notna().any() else None
    encoded = tokenizer(frame["text_a"].tolist(), texts_b, truncation=True,
                        max_length=max_length)
    keys = list(encoded.keys())
    items = [{key: encoded[key][i] for key in keys} for i in range(len(frame))]
    if with_labels:
        for item, label in zip(items, frame["label"].tolist()):
            item["labels"] = label
    return items


class Classification:
    """One label per row (or text pair), from a fixed list of label names."""
    name = "classification"
    columns = COLUMNS
    output_names = ("logits",)
    length_setting = "data.max_seq_length"  # the param that bounds a model input
    hub_pipeline = "text-classification"     # the Hugging Face hub's task name (model cards)
    outputs_are_distributions = True  # logits that a softmax turns into probabilities
    fp32_head_by_default = False      # quantization.fp32_head: auto; an argmax survives INT8
    holdout_group = None              # data.holdout_rows sets aside single rows

    def num_labels(self, task) -> int:
        return len(task.label_names)

    def load_model(self, path, task):
        config = AutoConfig.from_pretrained(path, num_labels=self.num_labels(task))
        self.configure(config, task)
        return AutoModelForSequenceClassification.from_pretrained(path, config=config)

    def configure(self, config, task) -> None:
        config.id2label = dict(enumerate(task.label_names))
        config.label2id = {name: i for i, name in enumerate(task.label_names)}

    def model_class(self):
        return AutoModelForSequenceClassification

    def hub_columns(self, frame: pd.DataFrame, task) -> pd.DataFrame:
        pair = len(task.text_fields) == 2
        return pd.DataFrame({"text_a": frame[task.text_fields[0]],
                             "text_b": frame[task.text_fields[1]] if pair else None,
                             "label": frame["label"]})

    def check_labels(self, frame: pd.DataFrame, task, where: str) -> pd.DataFrame:
        return labels_as_indices(frame, task, where)

    def head_order(self, config, task, name: str) -> list:
        return head_rows(config, task, name)

    def input_settings(self, params: dict) -> InputSettings:
        return InputSettings(params["data"]["max_seq_length"])

    def settings_from_info(self, info: dict) -> InputSettings:
        """The settings an export folder's model_info.json records."""
        return InputSettings(info["max_length"])

    def train_items(self, tokenizer, frame: pd.DataFrame, settings: InputSettings) -> list:
        return encode(tokenizer, frame, settings.max_length)

    def eval_items(self, tokenizer, frame: pd.DataFrame, settings: InputSettings) -> tuple:
        """Model inputs in row order, and no windows (one input per row)."""
        return encode(tokenizer, frame, settings.max_length, with_labels=False), None

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        return logits.argmax(axis=-1)

    def score(self, outputs: dict, split, task, settings: InputSettings) -> dict:
        """The task's metrics of one split (`split.frame` holds the gold labels)."""
        preds = self.predictions(np.stack(outputs["logits"]))
        labels = split.frame["label"].to_numpy()
        return {name: round(100.0 * float(METRICS[name](labels, preds)), 4)
                for name in task.metrics}

    def example_scores(self, outputs: dict, split, task, settings: InputSettings) -> list:
        """Each row's own score, to find the rows a change to the model hurts most (NNCF's
        accuracy control ranks layers on them): 100 when the label is right, else 0."""
        right = self.predictions(np.stack(outputs["logits"])) == split.frame["label"].to_numpy()
        return (100.0 * right).tolist()

    def row_groups(self, split) -> list:
        """Which model inputs of the split (in loader order) each row is scored from: its
        own one here."""
        return [[i] for i in range(len(split.frame))]

    def rows(self, split, indices: list):
        """The split cut to these rows, in this order, as outputs for their inputs come."""
        return replace(split, frame=split.frame.iloc[indices])

    def answers(self, outputs: dict, split, task, settings: InputSettings) -> list:
        """What a served model says per input: its label and every label's probability."""
        labels = task.label_names
        return [{"label": labels[int(row.argmax())],
                 "probabilities": {name: round(float(p), 4) for name, p in zip(labels, row)}}
                for row in softmax(np.stack(outputs["logits"]), axis=1)]

    def bounded_text(self, tokenizer, texts: list, fields: tuple,
                     settings: InputSettings) -> tuple:
        """(what is bounded, its length in tokens, the bound) for one served input."""
        return " + ".join(fields), len(tokenizer(*texts)["input_ids"]), settings.max_length

    def example_texts(self, task) -> list:
        if len(task.text_fields) == 2:
            return ["A man is playing a guitar.", "A man plays music."]
        return ["a gripping, beautifully shot film"]

    def outputs_text(self, task) -> str:
        return ", ".join(task.label_names)

    def scoring_notes(self, task, qa_params: dict) -> list:
        return []


class Regression(Classification):
    """One real-valued score per row (STS-B similarity)."""
    name = "regression"
    outputs_are_distributions = False
    # the score is the head's output itself: INT8 there cost STS-B 4 Pearson points, the rest
    # of the model in INT8 0.2 (docs/results.md)
    fp32_head_by_default = True

    def num_labels(self, task) -> int:
        return 1

    def configure(self, config, task) -> None:
        config.problem_type = "regression"

    def head_order(self, config, task, name: str) -> None:
        if config.num_labels != 1:
            raise PipelineError(f"{name}'s head has {config.num_labels} outputs; regression task "
                                f"{task.name} needs one score: use a checkpoint fine-tuned on "
                                "it, or set model.finetuned=false")
        return None

    def check_labels(self, frame: pd.DataFrame, task, where: str) -> pd.DataFrame:
        frame = frame.copy()
        frame["label"] = pd.to_numeric(frame["label"], errors="coerce").astype(float)
        if frame["label"].isna().any():
            raise PipelineError(f"{where}: non-numeric scores for regression task {task.name}")
        return frame

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        return logits[:, 0]

    def example_scores(self, outputs: dict, split, task, settings: InputSettings) -> list:
        """Minus each row's absolute error."""
        errors = self.predictions(np.stack(outputs["logits"])) - split.frame["label"].to_numpy()
        return (-np.abs(errors)).tolist()

    def answers(self, outputs: dict, split, task, settings: InputSettings) -> list:
        return [{"score": round(float(value), 4)} for value in np.stack(outputs["logits"])[:, 0]]

    def outputs_text(self, task) -> str:
        return self.name


class ExtractiveQA(Classification):
    """An answer span cut from a context (SQuAD); long contexts are read in windows."""
    name = "qa"
    columns = QA_COLUMNS
    output_names = ("start_logits", "end_logits")
    length_setting = "qa.max_seq_length"
    hub_pipeline = "question-answering"
    holdout_group = "title"  # whole articles: no context both trained on and held out

    def num_labels(self, task) -> int:
        return 2  # start and end

    def load_model(self, path, task):
        return AutoModelForQuestionAnswering.from_pretrained(path)

    def model_class(self):
        return AutoModelForQuestionAnswering

    def head_order(self, config, task, name: str) -> None:
        return None  # start and end logits: nothing to align

    def configure(self, config, task) -> None:
        pass  # no labels

    def hub_columns(self, frame: pd.DataFrame, task) -> pd.DataFrame:
        return pd.DataFrame({
            "id": frame["id"].astype(str), "title": frame["title"], "text_a": frame["question"],
            "text_b": frame["context"],
            "label": [{"text": list(a["text"]), "answer_start": [int(s) for s in a["answer_start"]]}
                      for a in frame["answers"]]})

    def check_labels(self, frame: pd.DataFrame, task, where: str) -> pd.DataFrame:
        check_answers(frame, where)
        return frame if task.has_null_answers else answerable_only(frame)

    def input_settings(self, params: dict) -> InputSettings:
        qa = QASettings.from_params(params["qa"])
        return InputSettings(qa.max_seq_length, qa)

    def settings_from_info(self, info: dict) -> InputSettings:
        return InputSettings(info["max_length"], QASettings(**info["qa"]))

    def train_items(self, tokenizer, frame: pd.DataFrame, settings: InputSettings) -> list:
        return train_features(tokenizer, frame, settings.qa)

    def eval_items(self, tokenizer, frame: pd.DataFrame, settings: InputSettings) -> tuple:
        """One input per context window, and which question and offsets each window holds."""
        return eval_features(tokenizer, frame, settings.qa)

    def _answers(self, outputs: dict, split, task, settings: InputSettings) -> tuple:
        return postprocess(split.frame, split.windows, outputs["start_logits"],
                           outputs["end_logits"], settings.qa, task.has_null_answers)

    def row_groups(self, split) -> list:
        """A question is scored from all its context windows (its answer may be in any)."""
        groups = [[] for _ in range(len(split.frame))]
        for i, window in enumerate(split.windows):
            groups[window["example"]].append(i)
        return groups

    def rows(self, split, indices: list):
        groups = self.row_groups(split)
        windows = [{**split.windows[w], "example": new}
                   for new, row in enumerate(indices) for w in groups[row]]
        return replace(split, frame=split.frame.iloc[indices], windows=windows)

    def example_scores(self, outputs: dict, split, task, settings: InputSettings) -> list:
        """Each question's F1 (0-100) against its best gold answer."""
        answers, _ = self._answers(outputs, split, task, settings)
        return [100.0 * question_scores(row.label, answers[row.id])[1]
                for row in split.frame.itertuples()]

    def score(self, outputs: dict, split, task, settings: InputSettings) -> dict:
        """The official SQuAD metrics, after the n-best answer search."""
        answers, null_odds = self._answers(outputs, split, task, settings)
        result = evaluate(split.frame, answers, null_odds if task.has_null_answers else None)
        return {name: round(value, 4) for name, value in result.items()}

    def answers(self, outputs: dict, split, task, settings: InputSettings) -> list:
        answers, _ = self._answers(outputs, split, task, settings)
        return [{"answer": answers[i]} for i in split.frame["id"]]

    def bounded_text(self, tokenizer, texts: list, fields: tuple,
                     settings: InputSettings) -> tuple:
        # A long context is read in windows; only the question is bounded.
        length = len(tokenizer(texts[0], add_special_tokens=False)["input_ids"])
        return fields[0], length, settings.qa.max_question_length

    def example_texts(self, task) -> list:
        return ["Who wrote it?", "It was written by Jane Austen in 1813."]

    def outputs_text(self, task) -> str:
        return self.name

    def scoring_notes(self, task, qa: dict) -> list:
        return [
            f"official SQuAD v{task.squad_release} exact match and F1 per "
            f"question; windows of {qa['max_seq_length']} tokens, stride {qa['doc_stride']}, "
            f"n-best {qa['n_best_size']}, answers up to {qa['max_answer_length']} tokens"
            + (f", no-answer when null - best span > {qa['null_score_diff_threshold']} "
               "(best_f1: at the best threshold)" if task.has_null_answers else "")]


CLASSIFICATION, REGRESSION, EXTRACTIVE_QA = Classification(), Regression(), ExtractiveQA()
