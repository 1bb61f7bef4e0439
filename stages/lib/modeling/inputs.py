"""Batches of model inputs, and PyTorch predictions over them."""

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import DataCollatorWithPadding


def make_loader(items, tokenizer, batch_size, shuffle=False, seed=0,
                group_by_length=False) -> DataLoader:
    """Batches padded to their longest item. With `group_by_length` (training only), batches
    are drawn from runs of similar length, as the HF Trainer's group_by_length does, so each
    step pads and computes fewer tokens; the order stays random and seeded."""
    generator = torch.Generator().manual_seed(seed)
    collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    if shuffle and group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler
        sampler = LengthGroupedSampler(batch_size, lengths=[len(i["input_ids"]) for i in items],
                                       generator=generator)
        return DataLoader(items, batch_size=batch_size, sampler=sampler, collate_fn=collate)
    return DataLoader(items, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=collate)


def to_device(batch: dict, device) -> dict:
    return {key: value.to(device) for key, value in batch.items()}


def numpy_feed(batch: dict, input_names) -> dict:
    """The inputs an ONNX graph reads, as the int64 arrays ONNX Runtime and OpenVINO take."""
    return {name: batch[name].cpu().numpy().astype(np.int64) for name in input_names}


@torch.no_grad()
def predict(model, loader, device, output_names=("logits",), desc="predict") -> dict:
    """output name -> one numpy row per item (QA rows keep the batch's padded length)."""
    model.eval()
    outputs = {name: [] for name in output_names}
    for batch in tqdm(loader, desc=desc, leave=False):
        result = model(**to_device(batch, device))
        for name in output_names:
            outputs[name].extend(getattr(result, name).float().cpu().numpy())
    return outputs


def latency_batch(tokenizer, frame, batch_size: int, seq_length: int) -> dict:
    """The first `batch_size` evaluation texts (question answering: question and context),
    cut or padded to exactly `seq_length` tokens: only the shape matters for timing."""
    repeats = -(-batch_size // len(frame))  # a tiny evaluation split is repeated
    rows = pd.concat([frame] * repeats).iloc[:batch_size]
    texts_b = rows["text_b"].tolist() if rows["text_b"].notna().any() else None
    return dict(tokenizer(rows["text_a"].tolist(), texts_b, truncation=True,
                          padding="max_length", max_length=seq_length, return_tensors="pt"))
