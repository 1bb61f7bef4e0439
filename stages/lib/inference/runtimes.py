"""The runtimes a model is benchmarked on: PyTorch, ONNX Runtime and OpenVINO.

Each gives an `Engine`: one model on one runtime at one float precision and thread count,
with `infer(batch) -> {output name: array}` for both scoring and timing, so that every
timing has an accuracy measured through the very same call.
"""
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

# The flags that decide which INT8 (VNNI, AMX-INT8) and BF16 kernels a runtime can use.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
             "amx_int8", "amx_bf16", "amx_fp16")


@dataclass
class Engine:
    model: str       # fp32 | an INT8 method
    runtime: str     # one of params.RUNTIMES
    precision: str   # what the arithmetic really is: FP32, BF16, INT8, INT8 + BF16
    threads: int
    infer: Callable[[dict], dict]

    @property
    def name(self) -> str:
        return f"{self.model}/{self.runtime}/{self.precision}"

    def predict(self, loader) -> dict:
        """output name -> one row per item, as modeling.predict gives."""
        outputs = {}
        for batch in loader:
            for key, values in self.infer(batch).items():
                outputs.setdefault(key, []).extend(values)
        return outputs


def precision_label(model: str, float_precision: str) -> str:
    floats = {"f32": "FP32", "bf16": "BF16"}[float_precision]
    return floats if model == "fp32" else f"INT8 + {floats}"


def pytorch_engine(model, output_names, threads: int) -> Engine:
    model = model.cpu().eval()

    def infer(batch):
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.no_grad():
                result = model(**batch)
        finally:
            torch.set_num_threads(previous)
        return {name: getattr(result, name).float().numpy() for name in output_names}
    return Engine("fp32", "pytorch", "FP32", threads, infer)


def onnxruntime_engine(model: str, path: Path, threads: int) -> Engine:
    from .onnx_session import feed, session
    sess = session(path, threads)
    names = [output.name for output in sess.get_outputs()]

    def infer(batch):
        return dict(zip(names, sess.run(names, feed(sess, batch))))
    # ONNX Runtime's CPU kernels compute in FP32 wherever the graph is not integer.
    return Engine(model, "onnxruntime", precision_label(model, "f32"), threads, infer)


def openvino_engine(model: str, path: Path, threads: int, float_precision: str) -> Engine:
    """OpenVINO reads the ONNX file itself. Its CPU plugin defaults to BF16 on CPUs with AMX,
    so the float precision is always set, and the label reports what the plugin says it used."""
    import openvino as ov
    compiled = ov.Core().compile_model(str(path), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": float_precision})
    used = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()  # bf16, f32
    request = compiled.create_infer_request()
    inputs = [port.get_any_name() for port in compiled.inputs]
    outputs = [(port.get_any_name(), port) for port in compiled.outputs]

    def infer(batch):
        result = request.infer({name: batch[name].cpu().numpy().astype(np.int64)
                                for name in inputs})
        return {name: np.array(result[port]) for name, port in outputs}
    return Engine(model, "openvino", precision_label(model, "bf16" if used == "bf16" else "f32"),
                  threads, infer)


def cpu_description() -> dict:
    """The CPU and the instruction sets that decide which INT8 and BF16 kernels can run."""
    fields = {}
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name") or platform.processor() or platform.machine(),
            "cores": len(os.sched_getaffinity(0)),
            "isa": [flag for flag in ISA_FLAGS if flag in flags]}


def versions() -> dict:
    import onnxruntime
    found = {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    try:
        import openvino
        found["openvino"] = openvino.__version__.split("-")[0]
    except ImportError:
        pass
    return found
