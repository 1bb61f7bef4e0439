"""Prepared rows -> model inputs, for training and for evaluation, whatever the task kind.

Classification and regression: one item per row. Question answering: one item per context
window, which post-processing maps back to its question (see qa.py).
"""
from dataclasses import dataclass

import pandas as pd
from torch.utils.data import DataLoader

from ..tasks.qa import QASettings, eval_features, train_features
from ..tasks.registry import Task
from .inputs import make_loader


@dataclass(frozen=True)
class InputSettings:
    max_length: int
    qa: QASettings | None = None  # windowing and answer search, for question answering


def input_settings(params: dict, task: Task) -> InputSettings:
    if task.is_qa:
        qa = QASettings.from_params(params["qa"])
        return InputSettings(qa.max_seq_length, qa)
    return InputSettings(params["data"]["max_seq_length"])


def encode(tokenizer, frame: pd.DataFrame, max_length: int, with_labels=True) -> list:
    texts_b = frame["text_b"].tolist() if frame["text_b"].notna().any() else None
    encoded = tokenizer(frame["text_a"].tolist(), texts_b, truncation=True,
                        max_length=max_length)
    keys = list(encoded.keys())
    items = [{key: encoded[key][i] for key in keys} for i in range(len(frame))]
    if with_labels:
        for item, label in zip(items, frame["label"].tolist()):
            item["labels"] = label
    return items


def train_items(tokenizer, frame: pd.DataFrame, task: Task, settings: InputSettings) -> list:
    """Model inputs with the targets the model computes its loss from."""
    if task.is_qa:
        return train_features(tokenizer, frame, settings.qa)
    return encode(tokenizer, frame, settings.max_length)


@dataclass
class EvalSplit:
    frame: pd.DataFrame    # the prepared rows, with the gold labels or answers
    loader: DataLoader     # model inputs only, in row (or window) order
    windows: list | None   # question answering: which question and offsets per window


def eval_split(tokenizer, frame: pd.DataFrame, task: Task, settings: InputSettings,
               batch_size: int) -> EvalSplit:
    if task.is_qa:
        items, windows = eval_features(tokenizer, frame, settings.qa)
    else:
        items, windows = encode(tokenizer, frame, settings.max_length, with_labels=False), None
    return EvalSplit(frame, make_loader(items, tokenizer, batch_size), windows)
