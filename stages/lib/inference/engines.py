"""Engines: one model on one runtime (PyTorch, ONNX Runtime, OpenVINO) at one float precision
and thread count. Every stage that scores or times a model (evaluate, export, benchmark, the
predict tool) goes through `Engine.infer`, so a timing and its score come from the same call
and each runtime's settings are written here once.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..modeling.inputs import numpy_feed, to_device
from ..tasks.metrics import score
from .timing import time_call

FLOAT_LABELS = {"f32": "FP32", "bf16": "BF16"}


@dataclass
class Engine:
    model: str       # fp32 | an INT8 method
    runtime: str     # pytorch | onnxruntime | openvino
    precision: str   # what the arithmetic really is: FP32, BF16, INT8 + FP32, INT8 + BF16
    threads: int
    infer: Callable[[dict], dict]  # a batch of input tensors -> {output name: array}
    device: str = "cpu"
    float_precision: str = "f32"   # the float setting that built it (OpenVINO: f32 | bf16)
    path: Path | None = None       # the ONNX file it runs, if any

    @property
    def name(self) -> str:
        return f"{self.model}/{self.runtime}/{self.precision}"

    def predict(self, loader, desc: str | None = None) -> dict:
        """output name -> one row per item, in loader order."""
        outputs = {}
        for batch in tqdm(loader, desc=desc or self.name, leave=False):
            for key, values in self.infer(batch).items():
                outputs.setdefault(key, []).extend(values)
        return outputs

    def time(self, batch: dict, warmup: int, repeats: int) -> dict:
        """Median and p90 latency of `infer` on one batch, with the threads and device used."""
        return {**time_call(lambda: self.infer(batch), warmup, repeats),
                "threads": self.threads, "device": self.device}


def score_engine(engine: Engine, splits: dict, task, settings) -> dict:
    """The task's metrics on every evaluation split (`features.EvalSplit`s), plus `main`."""
    outputs = {split: engine.predict(data.loader, desc=f"{engine.name} {split}")
               for split, data in splits.items()}
    return score(outputs, splits, task, settings)


def precision_label(model: str, float_precision: str) -> str:
    floats = FLOAT_LABELS[float_precision]
    return floats if model == "fp32" else f"INT8 + {floats}"


@contextmanager
def torch_threads(threads: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pytorch_engine(model_name: str, model, output_names, threads: int,
                   device=torch.device("cpu")) -> Engine:
    """A PyTorch model (FP32, or NNCF's fake-quantized INT8) on `device`."""
    model = model.to(device).eval()

    def infer(batch):
        with torch.no_grad(), torch_threads(threads):
            result = model(**to_device(batch, device))
            # .cpu() waits for the device, so a CUDA timing covers the whole forward pass
            return {name: getattr(result, name).float().cpu().numpy() for name in output_names}
    precision = "FP32" if model_name == "fp32" else "INT8 (simulated)"
    return Engine(model_name, "pytorch", precision, threads, infer, device=device.type)


def ort_options(threads: int | None, integer_kernels: bool = True):
    """integer_kernels=False runs each QuantizeLinear/DequantizeLinear as written, in float:
    the arithmetic NNCF's fake quantization does, with none of the CPU's INT8 kernels."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if not integer_kernels:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def ort_session(path: Path, options):
    import onnxruntime as ort
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_feed(sess, batch: dict) -> dict:
    return numpy_feed(batch, [i.name for i in sess.get_inputs()])


def onnxruntime_engine(model_name: str, path: Path, threads: int,
                       integer_kernels: bool = True) -> Engine:
    sess = ort_session(path, ort_options(threads, integer_kernels))
    names = [output.name for output in sess.get_outputs()]

    def infer(batch):
        return dict(zip(names, sess.run(names, ort_feed(sess, batch))))
    # ONNX Runtime's CPU kernels compute in FP32 wherever the graph is not integer.
    return Engine(model_name, "onnxruntime", precision_label(model_name, "f32"), threads, infer,
                  path=Path(path))


def openvino_config(threads: int, float_precision: str) -> dict:
    return {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": float_precision}


def openvino_engine(model_name: str, path: Path, threads: int, float_precision: str) -> Engine:
    """OpenVINO reads the ONNX file itself. Its CPU plugin defaults to BF16 on CPUs with AMX,
    so the float precision is always set, and the label reports what the plugin says it used."""
    import openvino as ov
    compiled = ov.Core().compile_model(str(path), "CPU",
                                       openvino_config(threads, float_precision))
    used = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # bf16, f32
    request = compiled.create_infer_request()
    inputs = [port.get_any_name() for port in compiled.inputs]
    outputs = [(port.get_any_name(), port) for port in compiled.outputs]

    def infer(batch):
        result = request.infer(numpy_feed(batch, inputs))
        return {name: np.array(result[port]) for name, port in outputs}
    used = "bf16" if used == "bf16" else "f32"
    return Engine(model_name, "openvino", precision_label(model_name, used), threads, infer,
                  float_precision=used, path=Path(path))
