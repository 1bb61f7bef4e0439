"""A model with the task's head: loading, saving, and the settings QAT changes."""
import shutil
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
)

from ..tasks.registry import Task


def model_class(task: Task):
    return AutoModelForQuestionAnswering if task.is_qa else AutoModelForSequenceClassification


def load_task_model(path: Path, task: Task):
    """The model with `task`'s head: start/end logits for QA, else sized for its labels."""
    if task.is_qa:
        return AutoModelForQuestionAnswering.from_pretrained(path)
    config = AutoConfig.from_pretrained(path, num_labels=task.num_labels)
    if task.is_regression:
        config.problem_type = "regression"
    else:
        config.id2label = dict(enumerate(task.label_names))
        config.label2id = {name: i for i, name in enumerate(task.label_names)}
    return AutoModelForSequenceClassification.from_pretrained(path, config=config)


def disable_dropout(model: torch.nn.Module) -> None:
    """QAT trains better without dropout (NNCF's advice); set every Dropout to p=0."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def save_model_folder(model, tokenizer, dest: Path) -> None:
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def copy_model_files(src: Path, dest: Path, skip=("model.safetensors",)) -> None:
    """Config and tokenizer files, so a model folder is self-contained."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in Path(src).iterdir():
        if path.is_file() and path.name not in skip:
            shutil.copy2(path, dest / path.name)
