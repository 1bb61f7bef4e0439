"""NNCF (qat, ptq_static): fake quantizers calibrated in PyTorch, saved so they reload
exactly, and stripped to Q/DQ pairs for ONNX."""
import json
from pathlib import Path

import nncf
import nncf.torch
from nncf.quantization.advanced_parameters import (
    AdvancedQuantizationParameters,
    OverflowFix,
    QuantizationParameters,
)
from nncf.torch.function_hook.nncf_graph.nncf_graph_builder import build_nncf_graph
from safetensors.torch import load_file, save_file
from transformers import AutoConfig

from ..modeling.distributed import broadcast_object, is_main
from ..modeling.inputs import make_loader, to_device
from ..modeling.models import copy_model_files
from .compiled_quantizers import use_compiled_quantizers
from .scheme import Scheme

WEIGHTS, NNCF_CONFIG = "quantized.safetensors", "nncf_config.json"


PRESETS = {"mixed": nncf.QuantizationPreset.MIXED,
           "performance": nncf.QuantizationPreset.PERFORMANCE}


def overflow_fix(scheme: Scheme) -> OverflowFix | None:
    """7-bit weights on every Linear/MatMul, or NNCF's default (None), which halves the
    weights of a model's first convolution only: none in a transformer."""
    return OverflowFix.ENABLE if scheme.overflow_fix else None


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
    use_compiled_quantizers()
    model.to(device).eval()
    dataset = calibration_dataset(items[:scheme.subset_size], tokenizer, device)
    example = next(iter(dataset.get_inference_data()))
    ignored = nncf_ignored_scope(model, scheme.kept_modules(model), example)
    advanced = AdvancedQuantizationParameters(
        overflow_fix=overflow_fix(scheme),
        weights_quantization_params=QuantizationParameters(per_channel=scheme.per_channel))
    return nncf.quantize(model, dataset, preset=PRESETS[scheme.preset],
                         model_type=nncf.ModelType.TRANSFORMER, ignored_scope=ignored,
                         subset_size=scheme.subset_size, advanced_parameters=advanced,
                         fast_bias_correction=fast_bias_correction)


def quantize_once(model, items, tokenizer, scheme: Scheme, device):
    """`quantize` on rank 0 only: the other DDP processes build the same quantizers from its
    NNCF config, and DDP copies rank 0's calibrated values to them when it wraps the model."""
    config = None
    if is_main():
        qmodel = quantize(model, items, tokenizer, scheme, device)
        config = nncf.torch.get_config(qmodel)
    config = broadcast_object(config)
    if not is_main():
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
    use_compiled_quantizers()
    folder = Path(folder)
    skeleton = task.kind.model_class().from_config(AutoConfig.from_pretrained(folder))
    qmodel = nncf.torch.load_from_config(skeleton.eval(),
                                         json.loads((folder / NNCF_CONFIG).read_text()))
    qmodel.load_state_dict(load_file(folder / WEIGHTS))
    return qmodel.eval()


def strip_for_export(qmodel, example_input: dict):
    """Fake quantizers -> torch FakeQuantize ops, which ONNX export turns into Q/DQ pairs."""
    # A plain dict: NNCF traces with it and does not know transformers' BatchEncoding.
    stripped = nncf.strip(qmodel, do_copy=True, example_input=dict(example_input))
    return stripped.eval()
