"""Scoring a model on every evaluation split of the prepared data."""
from pathlib import Path

from ..data.prepared import read_split
from ..tasks.metrics import score
from .features import InputSettings, eval_split, input_settings
from .inputs import latency_batch, predict


def eval_splits(data_dir: Path, task, tokenizer, settings: InputSettings, batch_size: int) -> dict:
    return {split: eval_split(tokenizer, read_split(data_dir, split), task, settings, batch_size)
            for split in task.eval_splits}


def evaluate_torch(model, splits: dict, task, settings: InputSettings, device,
                   desc="evaluate") -> dict:
    outputs = {name: predict(model, split.loader, device, task.output_names, f"{desc} {name}")
               for name, split in splits.items()}
    return score(outputs, splits, task, settings)


def evaluation_inputs(params: dict, task, tokenizer, data_dir: Path) -> tuple:
    """(settings, evaluation splits, the fixed batch that latency is timed on)."""
    settings, latency = input_settings(params, task), params["latency"]
    splits = eval_splits(data_dir, task, tokenizer, settings, params["evaluate"]["batch_size"])
    first_split = splits[task.eval_splits[0]].frame
    timing_batch = latency_batch(tokenizer, first_split, latency["batch_size"],
                                 latency["seq_length"] or settings.max_length)
    return settings, splits, timing_batch
