import numpy as np
import onnx
import pytest
import torch
from transformers import AutoTokenizer

from conftest import GLUE_DIR, needs_glue
from stages.lib import data, features, modeling, onnx_io, quantization
from stages.lib.tasks import get_task
from stages.export import check_parity
from stages.lib.errors import PipelineError
from stages.lib.training import TrainSettings, make_optimizer


@pytest.fixture(scope="module")
def quantized(tiny_model_dir, tmp_path_factory):
    """A tiny MRPC classifier, quantized by NNCF on 16 real samples and saved."""
    if not GLUE_DIR.is_dir():
        pytest.skip("no GLUE data")
    task = get_task("mrpc")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    splits = data.prepare(data.load_local(task, str(GLUE_DIR)), task, 32, 32)
    items = features.encode(tokenizer, splits["validation"], 32, with_labels=False)
    model = modeling.load_task_model(tiny_model_dir, task)
    qmodel = quantization.quantize(model, items[:16], tokenizer, "mixed", torch.device("cpu"))
    folder = tmp_path_factory.mktemp("int8")
    modeling.save_model_folder(model, tokenizer, folder / "fp32")
    quantization.save_quantized(qmodel, folder / "int8", folder / "fp32")
    batch = next(iter(modeling.make_loader(items, tokenizer, 8)))
    return qmodel, folder, batch, tokenizer, items


@needs_glue
def test_saved_int8_model_reloads_exactly(quantized):
    qmodel, folder, batch, _, _ = quantized
    reloaded = quantization.load_quantized(folder / "int8", get_task("mrpc"))
    with torch.no_grad():
        assert torch.equal(qmodel.eval()(**batch).logits, reloaded(**batch).logits)
    assert (folder / "int8" / "tokenizer.json").is_file()  # self-contained


@needs_glue
def test_int8_onnx_is_standard_qdq_and_matches_pytorch(quantized, tmp_path):
    qmodel, _, batch, tokenizer, items = quantized
    path = tmp_path / "int8.onnx"
    onnx_io.export(quantization.strip_for_export(qmodel, batch), batch, path, opset=17)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert not any(node.domain == "org.openvinotoolkit" for node in onnx.load(str(path)).graph.node)
    sess = onnx_io.session(path, threads=1)
    loader = modeling.make_loader(items, tokenizer, 8)
    onnx_logits = np.stack(onnx_io.predict(sess, loader)["logits"])
    torch_logits = np.stack(modeling.predict(qmodel, loader, "cpu")["logits"])
    assert np.abs(onnx_logits - torch_logits).max() < 0.05
    assert (onnx_logits.argmax(-1) == torch_logits.argmax(-1)).mean() >= 0.9


@needs_glue
def test_int8_weights_are_stored_as_int8_with_identical_outputs(quantized, tmp_path):
    qmodel, _, batch, tokenizer, items = quantized
    path = tmp_path / "int8.onnx"
    onnx_io.export(quantization.strip_for_export(qmodel, batch), batch, path, opset=17)
    loader = modeling.make_loader(items, tokenizer, 8)
    before = np.stack(onnx_io.predict(onnx_io.session(path), loader)["logits"])
    size_before = path.stat().st_size
    onnx_io.store_weights_as_int8(path)
    after = np.stack(onnx_io.predict(onnx_io.session(path), loader)["logits"])
    np.testing.assert_array_equal(before, after)
    graph = onnx.load(str(path)).graph
    int8_weights = [i for i in graph.initializer
                    if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 2]
    assert len(int8_weights) >= 12  # 6 linear layers x 2 blocks at least
    assert path.stat().st_size < 0.75 * size_before


@needs_glue
def test_presets_set_symmetric_or_asymmetric_activations(quantized, tiny_model_dir):
    qmodel, _, _, tokenizer, items = quantized
    modes = {type(m).__name__ for m in qmodel.modules() if "Quantizer" in type(m).__name__}
    assert {"SymmetricQuantizer", "AsymmetricQuantizer"} <= modes  # mixed
    performance = quantization.quantize(modeling.load_task_model(tiny_model_dir, get_task("mrpc")),
                                        items[:8], tokenizer, "performance", torch.device("cpu"))
    modes = {type(m).__name__ for m in performance.modules() if "Quantizer" in type(m).__name__}
    assert "AsymmetricQuantizer" not in modes


@needs_glue
def test_quantizer_scales_are_never_weight_decayed(quantized):
    qmodel = quantized[0]
    settings = TrainSettings(epochs=1, lr=1e-5, batch_size=8, weight_decay=0.1, warmup_ratio=0.0,
                             max_grad_norm=1.0, log_every=1, seed=0)
    decayed, plain = make_optimizer(qmodel, settings, torch.device("cpu")).param_groups
    names = {id(p): n for n, p in qmodel.named_parameters()}
    decayed_names = [names[id(p)] for p in decayed["params"]]
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert decayed_names and all(n.endswith("weight") and "nncf" not in n for n in decayed_names)
    assert any("_scale_param_storage" in names[id(p)] and p.dim() == 2 for p in plain["params"])
    assert not any("LayerNorm" in n or n.endswith("bias") for n in decayed_names)


def test_parity_gate_fails_beyond_the_tolerance():
    check_parity("int8", 85.0, 85.4, tolerance=0.5)
    with pytest.raises(PipelineError, match="ONNX int8 scores 84.00 but PyTorch int8 scored "
                                            "85.40.*export.parity_tolerance 1.0"):
        check_parity("int8", 84.0, 85.4, tolerance=1.0)
