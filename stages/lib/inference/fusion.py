"""Graphs the runtimes run fast: ONNX Runtime's transformer fusions on the FP32 model, and the
NaN guards of the SDPA export taken out of every exported graph."""
from collections import Counter
from pathlib import Path

import onnx

# What ONNX Runtime's transformer optimizer writes in place of a BERT layer's ops.
FUSED_OPS = ("Attention", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu",
             "FastGelu", "Gelu", "LayerNormalization", "QAttention", "QEmbedLayerNormalization")


def drop_nan_guards(model: onnx.ModelProto) -> int:
    """Replace `Where(IsNaN(p), 0, p)` by `p`; returns how many went.

    PyTorch's SDPA export guards each softmax against rows whose keys are all masked (NaN).
    A padding mask always leaves [CLS] to attend to, so the guard never fires: dropping it
    gives the same numbers and spares two passes over every layer's attention matrix."""
    graph = model.graph
    readers = Counter(name for node in graph.node for name in node.input)
    isnan = {node.output[0]: node for node in graph.node
             if node.op_type == "IsNaN" and readers[node.output[0]] == 1}
    renamed, dropped = {}, []
    for node in graph.node:
        guard = isnan.get(node.input[0]) if node.op_type == "Where" else None
        if guard is not None and node.input[2] == guard.input[0]:
            renamed[node.output[0]] = node.input[2]
            dropped += [node, guard]
    if not renamed:
        return 0
    graph_outputs = {output.name for output in graph.output}
    if graph_outputs & set(renamed):
        return 0  # a guard's output is a graph output: leave the graph as exported
    for node in dropped:
        graph.node.remove(node)
    for node in graph.node:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
    read = {name for node in graph.node for name in node.input}
    for node in [n for n in graph.node if n.op_type == "Constant" and n.output[0] not in read]:
        graph.node.remove(node)  # the guards' zeros
    return len(renamed)


def fuse_transformer_ops(path: Path, config) -> dict:
    """ONNX Runtime's transformer optimizer on an exported BERT-family graph (eager attention):
    Attention, EmbedLayerNormalization, SkipLayerNormalization, BiasGelu in place of their
    parts. Graph-level rewrites only (opt_level 0); the session applies its own on loading.
    Returns the fused ops it wrote, by type."""
    from onnxruntime.transformers.optimizer import optimize_model
    optimized = optimize_model(str(path), model_type="bert",
                               num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, opt_level=0)
    optimized.save_model_to_file(str(path))
    return fused_ops(optimized.model)


def fused_ops(model: onnx.ModelProto) -> dict:
    counts = Counter(node.op_type for node in model.graph.node)
    return {op: counts[op] for op in FUSED_OPS if counts[op]}


def openvino_cannot_read(path: Path) -> str | None:
    """Why OpenVINO cannot read an ONNX file (the ops it has no conversion for), else None.
    ONNX Runtime's quantized fused ops (QAttention, ...) exist in ONNX Runtime only."""
    import openvino as ov
    try:
        ov.Core().read_model(str(path))
    except RuntimeError as error:
        lines = [line.strip("- ") for line in str(error).splitlines()
                 if "No conversion rule found" in line]
        if not lines:
            raise
        return lines[0]
    return None
