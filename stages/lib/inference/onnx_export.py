"""ONNX export of a task model (FP32 fused for ONNX Runtime on request), and INT8 weights
stored as INT8 in the file."""
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import torch

from ..core.errors import PipelineError
from .fusion import drop_nan_guards, fuse_transformer_ops

# Embedding tables are looked up, never multiplied: they keep 8 bits under the overflow fix.
LOOKUPS = ("Gather", "EmbedLayerNormalization")
SEVEN_BITS = (-64, 64)  # the integers NNCF's overflow fix and ONNX Runtime's reduce_range use


class TensorOutputs(torch.nn.Module):
    """Positional inputs in, a tuple of named outputs out: the signature ONNX export needs."""

    def __init__(self, model, input_names, output_names):
        super().__init__()
        self.model, self.input_names = model, list(input_names)
        self.output_names = list(output_names)

    def forward(self, *inputs):
        result = self.model(**dict(zip(self.input_names, inputs)))
        return tuple(getattr(result, name) for name in self.output_names)


def export(model, example: dict, path: Path, opset: int, output_names=("logits",)) -> None:
    names = list(example)
    wrapper = TensorOutputs(model.cpu().eval(), names, output_names).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    for name in output_names:  # logits: (batch, labels); start/end logits: (batch, sequence)
        axes[name] = {0: "batch"} if name == "logits" else {0: "batch", 1: "sequence"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        # dynamo=False: the TorchScript exporter is the one that handles NNCF's stripped Q/DQ.
        torch.onnx.export(wrapper, tuple(example[n].cpu() for n in names), str(path),
                          input_names=names, output_names=list(output_names), dynamic_axes=axes,
                          opset_version=opset, dynamo=False)
    exported = onnx.load(str(path))
    if drop_nan_guards(exported):
        onnx.save(exported, str(path))


def export_fp32(model, example: dict, path: Path, opset: int, output_names, fuse: bool) -> dict:
    """The FP32 model as ONNX. With `fuse`, exported with eager attention (the pattern ONNX
    Runtime's transformer optimizer recognises) and fused; returns the fused ops by type."""
    if fuse:
        model.set_attn_implementation("eager")
    export(model, example, path, opset, output_names)
    return fuse_transformer_ops(path, model.config) if fuse else {}


def trace_example(tokenizer, frame) -> dict:
    """A short real batch to trace the export with; the axes stay dynamic."""
    from ..modeling.inputs import latency_batch
    return latency_batch(tokenizer, frame, batch_size=2, seq_length=16)


def store_weights_as_int8(path: Path) -> None:
    """Fold every QuantizeLinear whose inputs are all constants into an INT8 initializer.

    The exporter writes weights in FP32 followed by QuantizeLinear -> DequantizeLinear, so the
    file is as big as the FP32 one. Quantizing those constants ahead of time leaves
    DequantizeLinear reading INT8 weights: the same numbers, a quarter of the bytes.
    """
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    aliases = {node.output[0]: node.input[0] for node in graph.node
               if node.op_type == "Identity" and node.input[0] in initializers}

    def constant(name):
        return initializers.get(aliases.get(name, name))

    kept = []
    for node in graph.node:
        inputs = [constant(name) for name in node.input]
        if node.op_type != "QuantizeLinear" or len(inputs) < 3 or any(i is None for i in inputs):
            kept.append(node)
            continue
        weight, scale, zero_point = (numpy_helper.to_array(i) for i in inputs)
        axis = _axis(node, default=1)
        shape = [1] * weight.ndim
        if scale.ndim:
            shape[axis] = -1
        limits = np.iinfo(zero_point.dtype)
        # np.rint rounds half to even, as QuantizeLinear does.
        quantized = np.clip(np.rint(weight / scale.reshape(shape)) + zero_point.reshape(shape),
                            limits.min, limits.max).astype(zero_point.dtype)
        graph.initializer.append(numpy_helper.from_array(quantized, node.output[0]))
    graph.ClearField("node")
    graph.node.extend(_drop_unused(kept, {o.name for o in graph.output}))
    dequantize_looked_up_rows(graph)
    _drop_unused_initializers(graph)
    onnx.save(model, str(path))


def look_up_int8_rows(path: Path) -> None:
    """dequantize_looked_up_rows on an INT8 file made elsewhere (NNCF's ONNX PTQ); a file
    without such a table is left as it is, byte for byte."""
    model = onnx.load(str(path))
    if dequantize_looked_up_rows(model.graph):
        _drop_unused_initializers(model.graph)
        onnx.save(model, str(path))


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    for init in [init for init in graph.initializer if init.name not in used]:
        graph.initializer.remove(init)


def dequantize_looked_up_rows(graph: onnx.GraphProto) -> int:
    """Gather(DequantizeLinear(table)) becomes the same numbers from the looked-up rows alone.

    ONNX Runtime keeps an INT8 constant's DequantizeLinear, so an INT8 embedding table was
    dequantized whole on every run (30,522 x 384 values for 128 looked up: 3 of 12 ms at batch
    1, on one thread whatever the thread count). Gathering the INT8 rows, and their scale and
    zero point, before dequantizing does one multiplication per value as DequantizeLinear does:
    the outputs are bit for bit the same. Returns the number of tables rewritten."""
    from onnx import helper

    initializers = {init.name: init for init in graph.initializer}
    readers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            readers[name].append(node)
    tables = {node.output[0]: node for node in graph.node
              if _dequantized_table(node, initializers, readers[node.output[0]])}
    nodes = []
    for node in graph.node:
        if node.output[0] in tables:
            continue
        if node.op_type != "Gather" or node.input[0] not in tables:
            nodes.append(node)
            continue
        table, scale, zero_point = (list(tables[node.input[0]].input) + [""])[:3]
        rows = node.output[0] + "_int8_rows"
        nodes.append(helper.make_node("Gather", [table, node.input[1]], [rows], axis=0))
        if not initializers[scale].dims:  # one scale for the table: DequantizeLinear as it was
            nodes.append(helper.make_node("DequantizeLinear", [rows, scale, zero_point],
                                          node.output))
        else:
            per_row = _per_row_columns(graph, initializers, scale, zero_point)
            nodes += _scaled_rows(rows, node.input[1], per_row, node.output[0])
    graph.ClearField("node")
    graph.node.extend(nodes)
    return len(tables)


def _per_row_columns(graph, initializers: dict, scale: str, zero_point: str) -> dict:
    """The table's row scales, and its zero points when any is not 0, as FP32 columns
    (rows x 1) that a Gather turns into one value per looked-up row."""
    from onnx import numpy_helper

    columns = {}
    for kind, name in (("scale", scale), ("zero_point", zero_point)):
        values = numpy_helper.to_array(initializers[name]) if name else None
        if values is None or (kind == "zero_point" and not values.any()):
            continue
        columns[kind] = f"{name}_per_row"
        if columns[kind] not in initializers:
            initializers[columns[kind]] = numpy_helper.from_array(
                values.astype(np.float32).reshape(-1, 1), columns[kind])
            graph.initializer.append(initializers[columns[kind]])
    return columns


def _scaled_rows(rows: str, indices: str, per_row: dict, out: str) -> list:
    """(float(rows) - zero point) * scale, each row with its own: DequantizeLinear's
    arithmetic (the integer difference is exact in FP32, then one multiplication)."""
    from onnx import helper

    floats = rows + "_float"
    nodes = [helper.make_node("Cast", [rows], [floats], to=onnx.TensorProto.FLOAT)]
    if "zero_point" in per_row:
        nodes += [helper.make_node("Gather", [per_row["zero_point"], indices], [rows + "_zp"],
                                   axis=0),
                  helper.make_node("Sub", [floats, rows + "_zp"], [rows + "_centred"])]
        floats = rows + "_centred"
    return nodes + [
        helper.make_node("Gather", [per_row["scale"], indices], [rows + "_scale"], axis=0),
        helper.make_node("Mul", [floats, rows + "_scale"], [out])]


def _dequantized_table(node, initializers: dict, readers: list) -> bool:
    """A DequantizeLinear of a constant 2-D FP32-scaled table, per row or per tensor, read
    only by row lookups (Gather on axis 0)."""
    if node.op_type != "DequantizeLinear" or not readers \
            or any(name not in initializers for name in node.input):
        return False
    table, scale = initializers[node.input[0]], initializers[node.input[1]]
    per_row = len(scale.dims) == 1 and _axis(node, default=1) in (0, -2)
    return (len(table.dims) == 2 and scale.data_type == onnx.TensorProto.FLOAT
            and (not scale.dims or per_row)
            and all(r.op_type == "Gather" and r.input[0] == node.output[0]
                    and _axis(r, default=0) == 0 for r in readers))


def _axis(node, default: int) -> int:
    """A node's `axis` attribute, or the default its operator's schema gives it."""
    return next((a.i for a in node.attribute if a.name == "axis"), default)


def _drop_unused(nodes: list, graph_outputs: set) -> list:
    """Nodes whose outputs nobody reads (the Identity aliases left behind) go too."""
    while True:
        used = graph_outputs | {name for node in nodes for name in node.input}
        alive = [node for node in nodes if any(out in used for out in node.output)]
        if len(alive) == len(nodes):
            return alive
        nodes = alive


def multiplied_int8_weights(model: onnx.ModelProto) -> dict:
    """name -> integers of each 2-D INT8 initializer the graph multiplies by (read directly,
    or through DequantizeLinear and a Transpose or Reshape); embedding tables left out."""
    consumers = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            consumers[name].append(node)

    def looked_up(name: str, hops: int = 3) -> bool:
        return any(node.op_type in LOOKUPS or (
            hops and node.op_type in ("DequantizeLinear", "Transpose", "Reshape")
            and looked_up(node.output[0], hops - 1)) for node in consumers[name])

    return {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer
            if init.data_type == onnx.TensorProto.INT8 and len(init.dims) == 2
            and not looked_up(init.name)}


def check_seven_bit_weights(path: Path, name: str) -> None:
    """What quantization.overflow_fix promises, checked on the file: every multiplied INT8
    weight within -64..64, so u8 x s8 pair sums cannot saturate on a CPU without VNNI."""
    weights = multiplied_int8_weights(onnx.load(str(path)))
    low, high = SEVEN_BITS
    over = {key: (int(w.min()), int(w.max())) for key, w in weights.items()
            if w.min() < low or w.max() > high}
    if over:
        first, (smallest, largest) = next(iter(over.items()))
        raise PipelineError(
            f"{name}.onnx: {len(over)} of {len(weights)} INT8 weight matrices go beyond the "
            f"7 bits quantization.overflow_fix asks for ({first}: {smallest}..{largest})"
            "; on a CPU without VNNI they can saturate. Set -S quantization.overflow_fix=false "
            "to accept 8-bit weights, or report it. Nothing was written")
