"""The machine a timing was taken on: its CPU, the instruction sets that decide which INT8
and BF16 kernels can run, and the runtimes' versions."""
import os
import platform
from pathlib import Path

import torch

# The flags that decide which INT8 (VNNI, AMX-INT8) and BF16 kernels a runtime can use.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
             "amx_int8", "amx_bf16", "amx_fp16")


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
