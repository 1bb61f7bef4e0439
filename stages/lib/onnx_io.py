"""ONNX export of a classifier and inference with ONNX Runtime."""
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from tqdm.auto import tqdm


class LogitsOnly(torch.nn.Module):
    """Positional inputs in, logits out: the signature ONNX export needs."""

    def __init__(self, model, input_names):
        super().__init__()
        self.model, self.input_names = model, list(input_names)

    def forward(self, *inputs):
        return self.model(**dict(zip(self.input_names, inputs))).logits


def export(model, example: dict, path: Path, opset: int) -> None:
    names = list(example)
    wrapper = LogitsOnly(model.cpu().eval(), names).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["logits"] = {0: "batch"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        # dynamo=False: the TorchScript exporter is the one that handles NNCF's stripped Q/DQ.
        torch.onnx.export(wrapper, tuple(example[n].cpu() for n in names), str(path),
                          input_names=names, output_names=["logits"], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)


def session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feed(sess: ort.InferenceSession, batch: dict) -> dict:
    return {i.name: batch[i.name].cpu().numpy().astype(np.int64) for i in sess.get_inputs()}


def predict(sess: ort.InferenceSession, loader, desc="onnxruntime") -> tuple:
    """(logits, labels) as numpy arrays over a whole loader."""
    all_logits, all_labels = [], []
    for batch in tqdm(loader, desc=desc, leave=False):
        all_labels.append(batch.pop("labels").numpy())
        all_logits.append(sess.run(["logits"], feed(sess, batch))[0])
    return np.concatenate(all_logits), np.concatenate(all_labels)


def input_names(sess: ort.InferenceSession) -> list:
    return [i.name for i in sess.get_inputs()]
