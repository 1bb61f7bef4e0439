"""Prepared rows -> model inputs, for training and for evaluation, whatever the task kind.

Classification and regression: one item per row. Question answering: one item per context
window, which post-processing maps back to its question (see tasks/qa.py).
"""
from dataclasses import dataclass

import pandas as pd
from torch.utils.data import DataLoader

from ..tasks.kinds import InputSettings
from ..tasks.registry import Task
from .inputs import make_loader


def input_settings(params: dict, task: Task) -> InputSettings:
    return task.kind.input_settings(params)


def train_items(tokenizer, frame: pd.DataFrame, task: Task, settings: InputSettings) -> list:
    """Model inputs with the targets the model computes its loss from."""
    return task.kind.train_items(tokenizer, frame, settings)


@dataclass
class EvalSplit:
    frame: pd.DataFrame    # the prepared rows, with the gold labels or answers
    loader: DataLoader     # model inputs only, in row (or window) order
    windows: list | None   # question answering: which question and offsets per window


def eval_split(tokenizer, frame: pd.DataFrame, task: Task, settings: InputSettings,
               batch_size: int) -> EvalSplit:
    items, windows = task.kind.eval_items(tokenizer, frame, settings)
    return EvalSplit(frame, make_loader(items, tokenizer, batch_size), windows)
