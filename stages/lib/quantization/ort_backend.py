"""ONNX Runtime (ptq_dynamic): INT8 weights of the FP32 ONNX file, activations quantized per
batch at run time."""
from pathlib import Path

import onnx

from ..core.errors import PipelineError
from .scheme import Scheme

ONNX_MODEL = "model.onnx"  # what a method made as ONNX leaves in its folder


def onnx_module_name(node_name: str) -> str:
    """'/model/bert/encoder/layer.0/attention/self/query/MatMul' -> 'bert.encoder.layer.0.
    attention.self.query': the exporter names each node by the module path it was traced in,
    under the `model` attribute of onnx_io's export wrapper."""
    scopes = node_name.strip("/").split("/")[:-1]
    return ".".join(scopes[1:] if scopes[:1] == ["model"] else scopes)


def nodes_of(graph, modules: list) -> list:
    """The ONNX nodes the modules were exported as."""
    modules = set(modules)
    return [node.name for node in graph.node if onnx_module_name(node.name) in modules]


def quantize_dynamic(fp32_onnx: Path, dest: Path, scheme: Scheme, modules: list,
                     weight_type: str) -> None:
    """ONNX Runtime dynamic INT8: no calibration, activation ranges are taken per batch."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic
    graph = onnx.load(str(fp32_onnx), load_external_data=False).graph
    excluded = nodes_of(graph, modules)
    # ONNX Runtime first rewrites Gemm as MatMul + Add, naming the MatMul <gemm name>_MatMul.
    excluded += [f"{name}_MatMul" for name in excluded if name.endswith("Gemm")]
    if modules and not excluded:
        raise PipelineError(f"no ONNX node belongs to {modules}; the ignored scope cannot be "
                            "honoured by ptq_dynamic (a fused graph has one Attention node per "
                            "layer in place of its query/key/value: set export.fuse=false)")
    weights = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}[weight_type]
    # Fused ops (Attention, ...) carry no shape inference in ONNX: their outputs are float.
    # reduce_range: 7-bit weights, ONNX Runtime's own overflow fix
    ort_quantize_dynamic(fp32_onnx, dest, per_channel=scheme.per_channel, weight_type=weights,
                         nodes_to_exclude=excluded, reduce_range=scheme.overflow_fix,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
