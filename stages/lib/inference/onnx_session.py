"""Inference with ONNX Runtime: a session with pinned threads, its inputs, batched predictions."""
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tqdm.auto import tqdm


def session(path: Path, threads: int | None = None,
            integer_kernels: bool = True) -> ort.InferenceSession:
    """integer_kernels=False runs each QuantizeLinear/DequantizeLinear as written, in float:
    the arithmetic NNCF's fake quantization does, with none of the CPU's INT8 kernels."""
    options = ort.SessionOptions()
    if not integer_kernels:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feed(sess: ort.InferenceSession, batch: dict) -> dict:
    return {i.name: batch[i.name].cpu().numpy().astype(np.int64) for i in sess.get_inputs()}


def predict(sess: ort.InferenceSession, loader, desc="onnxruntime") -> dict:
    """output name -> one numpy row per item, as modeling.predict gives for PyTorch."""
    names = [output.name for output in sess.get_outputs()]
    outputs = {name: [] for name in names}
    for batch in tqdm(loader, desc=desc, leave=False):
        for name, values in zip(names, sess.run(names, feed(sess, batch))):
            outputs[name].extend(values)
    return outputs
