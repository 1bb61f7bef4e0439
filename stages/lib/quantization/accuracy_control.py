"""NNCF accuracy-controlled PTQ (ptq_accuracy) on the FP32 ONNX model: calibrate every layer,
then put back in FP32 the layers whose quantization moves the outputs most, one at a time,
until the task's own validation metric is within the allowed drop (Intel Neural Compressor's
accuracy-driven tuning). NNCF has no PyTorch backend for it, so it works on the ONNX file and
scores each candidate with ONNX Runtime."""
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nncf
import onnx
from nncf.quantization.advanced_parameters import (
    AdvancedAccuracyRestorerParameters,
    AdvancedQuantizationParameters,
    QuantizationParameters,
)

from ..modeling.inputs import numpy_feed
from ..tasks.metrics import drop_of
from .nncf_backend import PRESETS, overflow_fix
from .ort_backend import onnx_module_name
from .scheme import Scheme

DROP_TYPES = {"relative": nncf.DropType.RELATIVE, "absolute": nncf.DropType.ABSOLUTE}
# Ops NNCF quantizes whose inputs come through DequantizeLinear when quantized.
QUANTIZABLE_OPS = ("MatMul", "Gemm", "Conv")


@dataclass(frozen=True)
class Criterion:
    max_drop: float  # in the report's units: % of FP32 (relative) or points (absolute)
    kind: str        # relative | absolute

    @property
    def nncf_max_drop(self) -> float:
        """NNCF's relative drop is a fraction of FP32 (0.01), its absolute one in metric units."""
        return self.max_drop / 100 if self.kind == "relative" else self.max_drop

    def met(self, fp32: float, int8: float) -> bool:
        return drop_of(self.kind, fp32, int8) <= self.max_drop + 1e-9


def onnx_feeds(loader, input_names: list) -> list:
    """One ONNX Runtime feed per loader batch (numpy int64), only the inputs the graph has."""
    return [numpy_feed(batch, input_names) for batch in loader]


def row_feeds(loader, groups: list, input_names: list) -> list:
    """One feed per evaluation row, batching the loader's inputs each row is scored from
    (`groups`: their indices per row), padded as the loader pads a batch."""
    items = loader.dataset
    return [numpy_feed(loader.collate_fn([items[i] for i in group]), input_names)
            for group in groups]


def graph_inputs(model: onnx.ModelProto) -> list:
    return [i.name for i in model.graph.input]


@dataclass(frozen=True)
class RowScoring:
    """How a subset of the validation rows is scored, from the outputs for them and their
    indices: `metric` is the task's metric over them, `per_row` each row's own score."""
    metric: Callable[[dict, list], float]
    per_row: Callable[[dict, list], list]


class Validator:
    """NNCF's validation_fn over (index, feed) items, one evaluation row per item. It remembers
    the metric of the models it scored on the whole split last, so FP32 and the final model
    are not scored twice.

    NNCF ranks the layers on the rows INT8 hurts most, scoring those rows one at a time: one
    row's metric is its own score (a correlation or an MCC says nothing of one row: STS-B's
    Pearson has no value, CoLA's MCC is always 0), and NNCF's first one-row call decides that
    it works in metric mode (its logits mode ranks on OpenVINO only)."""

    def __init__(self, scoring: RowScoring, output_names: list, total: int):
        self.scoring, self.output_names, self.total = scoring, output_names, total
        self.first, self.recent = None, []  # (model, metric); the final model is among recent

    def __call__(self, model: onnx.ModelProto, items) -> tuple:
        import onnxruntime as ort
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        indices, rows = [], []
        for index, feed in items:
            indices.append(index)
            rows.append(sess.run(self.output_names, feed))
        outputs = {name: [row for outputs in rows for row in outputs[i]]
                   for i, name in enumerate(self.output_names)}
        per_row = self.scoring.per_row(outputs, indices)
        metric = per_row[0] if len(indices) == 1 else self.scoring.metric(outputs, indices)
        if len(indices) == self.total:
            self.first = self.first or (model, float(metric))
            self.recent = [*self.recent[-2:], (model, float(metric))]
        return float(metric), per_row

    def metric(self, model: onnx.ModelProto, validation: list) -> float:
        known = [metric for seen, metric in [self.first, *self.recent] if seen is model]
        return known[0] if known else self(model, enumerate(validation))[0]


def quantized_ops(model: onnx.ModelProto) -> set:
    """Names of the MatMul/Gemm/Conv nodes that read an input through DequantizeLinear."""
    dequantized = {node.output[0] for node in model.graph.node
                   if node.op_type == "DequantizeLinear"}
    return {node.name for node in model.graph.node
            if node.op_type in QUANTIZABLE_OPS and dequantized & set(node.input)}


def layer_name(node_name: str) -> str:
    """'/model/bert/encoder/layer.5/output/dense/MatMul' -> 'bert.encoder.layer.5.output.dense';
    a weightless op (attention's scores) keeps its op name: '...attention.self/MatMul_1'."""
    module, op = onnx_module_name(node_name), node_name.rsplit("/", 1)[-1]
    return module if op in QUANTIZABLE_OPS else f"{module}/{op}"


@dataclass
class Outcome:
    kept_fp32: list      # layers accuracy control put back in FP32, model order
    quantized: int       # layers left in INT8
    fp32_main: float
    int8_main: float     # the saved model, scored as NNCF scored it (batch 1, ONNX Runtime)
    met: bool


def quantize_with_accuracy_control(fp32_onnx: Path, dest: Path, calibration: list,
                                   validation: list, scoring: RowScoring,
                                   output_names: list, scheme: Scheme, ignored_nodes: list,
                                   criterion: Criterion, bias_correction: bool,
                                   ranking_subset_size: int,
                                   max_iterations: int | None = None) -> Outcome:
    """calibration: ONNX feeds; validation: the first evaluation split's feeds, one row each;
    scoring: see Validator. bias_correction: NNCF's fast bias correction, whose corrected
    biases stay in the layers put back in FP32 (NNCF 3.4 on ONNX restores the biases of Gemm
    and Conv only, not of MatMul + Add); without it they keep no corrected bias. (NNCF's
    full bias correction fails on these ONNX graphs: duplicate graph inputs.) max_iterations:
    the most layers put back in FP32 (None: as many as it takes); the search stops there,
    criterion met or not."""
    model = onnx.load(str(fp32_onnx))
    validate = Validator(scoring, output_names, len(validation))
    with tempfile.TemporaryDirectory() as tmp:
        result = nncf.quantize_with_accuracy_control(
            model, nncf.Dataset(calibration), nncf.Dataset(list(enumerate(validation)),
                                                           lambda item: item[1]),
            validate, max_drop=criterion.nncf_max_drop, drop_type=DROP_TYPES[criterion.kind],
            preset=PRESETS[scheme.preset], model_type=nncf.ModelType.TRANSFORMER,
            subset_size=scheme.subset_size, fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(names=list(ignored_nodes)),
            advanced_quantization_parameters=AdvancedQuantizationParameters(
                disable_bias_correction=not bias_correction, overflow_fix=overflow_fix(scheme),
                weights_quantization_params=QuantizationParameters(
                    per_channel=scheme.per_channel)),
            advanced_accuracy_restorer_parameters=AdvancedAccuracyRestorerParameters(
                ranking_subset_size=ranking_subset_size, intermediate_model_dir=tmp,
                max_num_iterations=max_iterations or sys.maxsize))
        all_int8 = quantized_ops(onnx.load(str(Path(tmp) / "intermediate_model.onnx")))
    onnx.save(result, str(dest))
    fp32_main, int8_main = validate.metric(model, validation), validate.metric(result, validation)
    order = [node.name for node in result.graph.node]
    kept = sorted(all_int8 - quantized_ops(result), key=order.index)
    met = not math.isnan(int8_main) and criterion.met(fp32_main, int8_main)
    return Outcome([layer_name(n) for n in kept], len(all_int8) - len(kept), fp32_main,
                   int8_main, met)
