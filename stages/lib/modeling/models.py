"""A model with the task's head: loading, saving, and the settings QAT changes."""
import shutil
from pathlib import Path

import torch

from ..tasks.registry import Task


def load_task_model(path: Path, task: Task):
    """The model with `task`'s head: start/end logits for QA, else sized for its labels."""
    return task.kind.load_model(path, task)


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
