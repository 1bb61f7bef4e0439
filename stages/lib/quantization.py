"""INT8 with NNCF: calibrate fake quantizers, save them so they reload exactly, strip for export."""
import json
from pathlib import Path

import nncf
import nncf.torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig

from .modeling import copy_model_files, make_loader, model_class, to_device

WEIGHTS = "quantized.safetensors"
NNCF_CONFIG = "nncf_config.json"
PRESETS = {"mixed": nncf.QuantizationPreset.MIXED,
           "performance": nncf.QuantizationPreset.PERFORMANCE}


def calibration_dataset(items, tokenizer, device) -> nncf.Dataset:
    """One example per item, model inputs only (no targets): NNCF calls model(**item)."""
    unlabeled = [{k: v for k, v in item.items() if k in tokenizer.model_input_names}
                 for item in items]
    loader = make_loader(unlabeled, tokenizer, batch_size=1)
    return nncf.Dataset([to_device(batch, device) for batch in loader])


def quantize(model, items, tokenizer, preset: str, device):
    """Insert and calibrate fake quantizers on `items` (the subset NNCF sees)."""
    model.to(device).eval()
    return nncf.quantize(model, calibration_dataset(items, tokenizer, device),
                         preset=PRESETS[preset], model_type=nncf.ModelType.TRANSFORMER,
                         subset_size=len(items))


def save_quantized(qmodel, dest: Path, fp32_dir: Path) -> None:
    """Weights + quantizer state as safetensors and the NNCF graph config as JSON."""
    copy_model_files(fp32_dir, dest)
    # clone(): quantizers share tensors, which safetensors refuses to store as such.
    state = {k: v.detach().cpu().clone().contiguous() for k, v in qmodel.state_dict().items()}
    save_file(state, dest / WEIGHTS)
    (dest / NNCF_CONFIG).write_text(json.dumps(nncf.torch.get_config(qmodel), indent=1))


def load_quantized(folder: Path, task):
    """The fake-quantized model exactly as QAT left it."""
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

