"""INT8 by every method the pipeline offers, from one scheme in params.yaml.

NNCF (qat, ptq_static) calibrates fake quantizers in PyTorch; they are saved so they reload
exactly and stripped to Q/DQ pairs for ONNX. ONNX Runtime (ptq_dynamic) quantizes the weights
of the FP32 ONNX file and the activations per batch at run time.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nncf
import nncf.torch
import onnx
import torch
from nncf.quantization.advanced_parameters import (AdvancedQuantizationParameters,
                                                   QuantizationParameters)
from nncf.torch.function_hook.nncf_graph.nncf_graph_builder import build_nncf_graph
from safetensors.torch import load_file, save_file
from transformers import AutoConfig

from . import distributed
from .errors import PipelineError
from .modeling import copy_model_files, make_loader, model_class, to_device

NNCF_METHODS = ("qat", "ptq_static")  # the ones with a PyTorch model to evaluate and export
WEIGHTS, NNCF_CONFIG, RECORD = "quantized.safetensors", "nncf_config.json", "method.json"
PRESETS = {"mixed": nncf.QuantizationPreset.MIXED,
           "performance": nncf.QuantizationPreset.PERFORMANCE}


@dataclass(frozen=True)
class Scheme:
    preset: str
    per_channel: bool
    ignored_scope: tuple   # regexes over module names
    subset_size: int

    @classmethod
    def from_params(cls, params: dict) -> "Scheme":
        section = params["quantization"]
        return cls(section["preset"], section["per_channel"], tuple(section["ignored_scope"]),
                   section["subset_size"])

    def describe(self, method: str, weight_type: str = "int8") -> str:
        """One line for the results table: what this method honoured of the scheme."""
        channels = "per-channel" if self.per_channel else "per-tensor"
        kept = f", FP32: {' '.join(self.ignored_scope)}" if self.ignored_scope else ""
        if method == "ptq_dynamic":
            return f"ORT dynamic, {weight_type} weights {channels}, uint8 activations{kept}"
        return f"NNCF {self.preset}, weights {channels}, calib {self.subset_size}{kept}"


def ignored_modules(model, patterns) -> list:
    """Names of the Linear and Embedding modules that the ignored scope keeps in FP32."""
    weighted = [name for name, module in model.named_modules()
                if isinstance(module, (torch.nn.Linear, torch.nn.Embedding))]
    for pattern in patterns:
        if not any(re.fullmatch(pattern, name) for name in weighted):
            raise PipelineError(
                f"quantization.ignored_scope entry {pattern!r} matches no Linear or Embedding "
                f"module of the model; names look like {', '.join(weighted[:2])}, "
                f"{weighted[-1]}")
    return [name for name in weighted if any(re.fullmatch(p, name) for p in patterns)]


def nncf_ignored_scope(model, modules: list, example: dict) -> nncf.IgnoredScope:
    """NNCF names its ops by call order, not by module (layer.3 becomes the fourth call), so
    the ops to ignore are found as the readers of each ignored module's weight."""
    if not modules:
        return nncf.IgnoredScope()
    graph = build_nncf_graph(model, example)
    weights = {f"{name}.weight" for name in modules}
    ops = [edge.to_node.node_name for node in graph.get_all_nodes() if node.node_name in weights
           for edge in graph.get_output_edges(node)]
    return nncf.IgnoredScope(names=sorted(set(ops)))


def calibration_dataset(items, tokenizer, device) -> nncf.Dataset:
    """One example per item, model inputs only (no targets): NNCF calls model(**item)."""
    unlabeled = [{k: v for k, v in item.items() if k in tokenizer.model_input_names}
                 for item in items]
    loader = make_loader(unlabeled, tokenizer, batch_size=1)
    return nncf.Dataset([to_device(batch, device) for batch in loader])


def quantize(model, items, tokenizer, scheme: Scheme, device, fast_bias_correction=True):
    """Insert fake quantizers and calibrate them on the first `scheme.subset_size` items."""
    model.to(device).eval()
    dataset = calibration_dataset(items[:scheme.subset_size], tokenizer, device)
    example = next(iter(dataset.get_inference_data()))
    ignored = nncf_ignored_scope(model, ignored_modules(model, scheme.ignored_scope), example)
    advanced = AdvancedQuantizationParameters(
        weights_quantization_params=QuantizationParameters(per_channel=scheme.per_channel))
    return nncf.quantize(model, dataset, preset=PRESETS[scheme.preset],
                         model_type=nncf.ModelType.TRANSFORMER, ignored_scope=ignored,
                         subset_size=scheme.subset_size, advanced_parameters=advanced,
                         fast_bias_correction=fast_bias_correction)


def quantize_once(model, items, tokenizer, scheme: Scheme, device):
    """`quantize` on rank 0 only: the other DDP processes build the same quantizers from its
    NNCF config, and DDP copies rank 0's calibrated values to them when it wraps the model."""
    config = None
    if distributed.is_main():
        qmodel = quantize(model, items, tokenizer, scheme, device)
        config = nncf.torch.get_config(qmodel)
    config = distributed.broadcast_object(config)
    if not distributed.is_main():
        qmodel = nncf.torch.load_from_config(model.to(device).eval(), config)
    return qmodel


def save_quantized(qmodel, dest: Path, fp32_dir: Path) -> None:
    """Weights + quantizer state as safetensors and the NNCF graph config as JSON."""
    copy_model_files(fp32_dir, dest)
    # clone(): quantizers share tensors, which safetensors refuses to store as such.
    state = {k: v.detach().cpu().clone().contiguous() for k, v in qmodel.state_dict().items()}
    save_file(state, dest / WEIGHTS)
    (dest / NNCF_CONFIG).write_text(json.dumps(nncf.torch.get_config(qmodel), indent=1))


def load_quantized(folder: Path, task):
    """The fake-quantized model exactly as calibration (and training) left it."""
    folder = Path(folder)
    skeleton = model_class(task).from_config(AutoConfig.from_pretrained(folder))
    qmodel = nncf.torch.load_from_config(skeleton.eval(),
                                         json.loads((folder / NNCF_CONFIG).read_text()))
    qmodel.load_state_dict(load_file(folder / WEIGHTS))
    return qmodel.eval()


def strip_for_export(qmodel, example_input: dict):
    """Fake quantizers -> torch FakeQuantize ops, which ONNX export turns into Q/DQ pairs."""
    # A plain dict: NNCF traces with it and does not know transformers' BatchEncoding.
    stripped = nncf.strip(qmodel, do_copy=True, example_input=dict(example_input))
    return stripped.eval()


def onnx_module_name(node_name: str) -> str:
    """'/model/bert/encoder/layer.0/attention/self/query/MatMul' -> 'bert.encoder.layer.0.
    attention.self.query': the exporter names each node by the module path it was traced in,
    under the `model` attribute of onnx_io's export wrapper."""
    scopes = node_name.strip("/").split("/")[:-1]
    return ".".join(scopes[1:] if scopes[:1] == ["model"] else scopes)


def quantize_dynamic(fp32_onnx: Path, dest: Path, scheme: Scheme, modules: list,
                     weight_type: str) -> None:
    """ONNX Runtime dynamic INT8: no calibration, activation ranges are taken per batch."""
    from onnxruntime.quantization import QuantType, quantize_dynamic as ort_quantize_dynamic
    graph = onnx.load(str(fp32_onnx), load_external_data=False).graph
    ignored = set(modules)
    excluded = [node.name for node in graph.node if onnx_module_name(node.name) in ignored]
    # ONNX Runtime first rewrites Gemm as MatMul + Add, naming the MatMul <gemm name>_MatMul.
    excluded += [f"{name}_MatMul" for name in excluded if name.endswith("Gemm")]
    if modules and not excluded:
        raise PipelineError(f"no ONNX node belongs to {modules}; the ignored scope cannot be "
                            "honoured by ptq_dynamic")
    ort_quantize_dynamic(fp32_onnx, dest, per_channel=scheme.per_channel,
                         weight_type={"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}[weight_type],
                         nodes_to_exclude=excluded)


def write_record(folder: Path, record: dict) -> None:
    (Path(folder) / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def read_record(folder: Path) -> dict:
    path = Path(folder) / RECORD
    if not path.is_file():
        raise PipelineError(f"{path} is missing; run `dvc repro` to make the INT8 models")
    return json.loads(path.read_text())
