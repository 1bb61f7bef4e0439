"""Scoring a PyTorch model on every evaluation split of the prepared data."""
from pathlib import Path

from .benchmark import latency_batch
from .data import read_split
from .metrics import score
from .modeling import encode, make_loader, predict


def eval_loaders(data_dir: Path, task, tokenizer, max_length: int, batch_size: int) -> dict:
    return {split: make_loader(encode(tokenizer, read_split(data_dir, split), max_length),
                               tokenizer, batch_size)
            for split in task.eval_splits}


def evaluate_torch(model, loaders: dict, task, device, desc="evaluate") -> dict:
    results = {split: predict(model, loader, device, desc=f"{desc} {split}")
               for split, loader in loaders.items()}
    return score(results, task)


def evaluation_inputs(params: dict, task, tokenizer, data_dir: Path) -> tuple:
    """Loaders for every evaluation split, and the fixed batch that latency is timed on."""
    max_length, latency = params["data"]["max_seq_length"], params["latency"]
    loaders = eval_loaders(data_dir, task, tokenizer, max_length, params["evaluate"]["batch_size"])
    timing_batch = latency_batch(tokenizer, read_split(data_dir, task.eval_splits[0]),
                                 latency["batch_size"], latency["seq_length"] or max_length)
    return loaders, timing_batch
