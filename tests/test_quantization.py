import nncf
import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import torch
from conftest import GLUE_DIR, needs_glue, ort_logits
from nncf.torch.quantization.extensions import QuantizedFunctionsCPU
from transformers import AutoTokenizer

from stages.export import check_parity
from stages.lib.core.errors import PipelineError
from stages.lib.data.sources import load_local, prepare
from stages.lib.inference.onnx_export import (
    check_seven_bit_weights,
    dequantize_looked_up_rows,
    export,
    multiplied_int8_weights,
    store_weights_as_int8,
)
from stages.lib.modeling.inputs import make_loader, predict
from stages.lib.modeling.models import load_task_model, save_model_folder
from stages.lib.modeling.train_settings import TrainSettings
from stages.lib.modeling.training import make_optimizer
from stages.lib.quantization.accuracy_control import (
    Criterion,
    RowScoring,
    Validator,
    layer_name,
    onnx_feeds,
    quantize_with_accuracy_control,
)
from stages.lib.quantization.compiled_quantizers import (
    CompiledFunctions,
    compiled_quantizers_in_use,
    nncf_extension,
    use_compiled_quantizers,
)
from stages.lib.quantization.methods import get_method
from stages.lib.quantization.nncf_backend import (
    load_quantized,
    quantize,
    save_quantized,
    strip_for_export,
)
from stages.lib.quantization.ort_backend import onnx_module_name, quantize_dynamic
from stages.lib.quantization.scheme import Scheme, ignored_modules, output_layer
from stages.lib.tasks.kinds import encode
from stages.lib.tasks.registry import get_task
from stages.ptq_accuracy import selection_rows

MIXED = Scheme("mixed", per_channel=True, ignored_scope=(), subset_size=16)
KEEP_HEAD_AND_WORDS = (r"classifier", r"bert\.embeddings\.word_embeddings")



@pytest.fixture(scope="module")
def quantized(tiny_model_dir, tmp_path_factory):
    """A tiny MRPC classifier, quantized by NNCF on 16 real samples and saved."""
    if not GLUE_DIR.is_dir():
        pytest.skip("no GLUE data")
    task = get_task("mrpc")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    splits = prepare(load_local(task, str(GLUE_DIR)), task, 32, 32)
    items = encode(tokenizer, splits["validation"], 32, with_labels=False)
    model = load_task_model(tiny_model_dir, task)
    qmodel = quantize(model, items, tokenizer, MIXED, torch.device("cpu"))
    folder = tmp_path_factory.mktemp("int8")
    save_model_folder(model, tokenizer, folder / "fp32")
    save_quantized(qmodel, folder / "int8", folder / "fp32")
    batch = next(iter(make_loader(items, tokenizer, 8)))
    return qmodel, folder, batch, tokenizer, items


@needs_glue
def test_saved_int8_model_reloads_exactly(quantized):
    qmodel, folder, batch, _, _ = quantized
    reloaded = load_quantized(folder / "int8", get_task("mrpc"))
    with torch.no_grad():
        assert torch.equal(qmodel.eval()(**batch).logits, reloaded(**batch).logits)
    assert (folder / "int8" / "tokenizer.json").is_file()  # self-contained


@pytest.mark.parametrize("shape, per_channel", [((6, 37, 48), False), ((48, 96), True),
                                                ((2, 3, 9, 9), False)])
def test_compiled_fake_quantizers_match_nncf_extension_bit_for_bit(shape, per_channel):
    generator = torch.Generator().manual_seed(len(shape))
    x, grad = (torch.randn(shape, generator=generator) * 3 for _ in range(2))
    reference = (shape[0], 1) if per_channel else (1,)
    low = -torch.rand(reference, generator=generator) * 4 - 0.1  # ranges that are no power
    width = torch.rand(reference, generator=generator) * 7 + 0.3  # of 2: roundings differ
    nncf_cpu, compiled = nncf_extension(), CompiledFunctions()
    for levels, level_low, level_high, asymmetric in [(256, 0, 255, True),
                                                       (256, -128, 127, False),
                                                       (255, -127, 127, False)]:
        assert torch.equal(nncf_cpu.Quantize_forward(x, low, width, levels),
                           compiled.Quantize_forward(x, low, width, levels))
        ours = compiled.Quantize_backward(grad, x, low, width, levels, level_low, level_high,
                                          asymmetric)
        theirs = nncf_cpu.Quantize_backward(grad, x, low, width, levels, level_low, level_high,
                                            asymmetric)
        for kept in ([0, 1, 2] if asymmetric else [0, 2]):  # symmetric: no input_low grad
            assert torch.equal(ours[kept], theirs[kept])


@pytest.mark.parametrize("rows_used", [[], [7], list(range(0, 300, 3)), list(range(300))])
def test_embedding_quantizer_backward_skips_rows_without_gradient_bit_for_bit(rows_used):
    """An embedding table's gradient is zero but for the batch's tokens: the compiled backward
    works on those rows only and still gives what NNCF's extension gives for the whole table."""
    generator = torch.Generator().manual_seed(len(rows_used))
    table = torch.randn(300, 64, generator=generator) * 3
    grad = torch.zeros_like(table)
    grad[rows_used] = torch.randn(len(rows_used), 64, generator=generator)
    low = -torch.rand(300, 1, generator=generator) * 4 - 0.1
    width = torch.rand(300, 1, generator=generator) * 7 + 0.3
    nncf_cpu, compiled = nncf_extension(), CompiledFunctions()
    skipped = compiled.rows_with_gradient(grad, low, width)
    assert (skipped is None if len(rows_used) == 300 else skipped.tolist() == rows_used)
    for levels, level_low, level_high, asymmetric in [(256, 0, 255, True),
                                                       (256, -128, 127, False)]:
        ours = compiled.Quantize_backward(grad, table, low, width, levels, level_low,
                                          level_high, asymmetric)
        theirs = nncf_cpu.Quantize_backward(grad, table, low, width, levels, level_low,
                                            level_high, asymmetric)
        for kept in ([0, 1, 2] if asymmetric else [0, 2]):
            assert ours[kept].shape == theirs[kept].shape
            assert torch.equal(ours[kept], theirs[kept])


def test_compiled_quantizers_build_on_the_first_cpu_call_else_nncf_extension_runs(monkeypatch):
    def cannot_build(function, **options):  # what a machine without a C++ compiler gives
        def fail(*args, **kwargs):
            raise RuntimeError("no C++ compiler")
        return fail

    x, low, width = torch.randn(4, 8), torch.tensor([-1.3]), torch.tensor([2.9])
    expected = nncf_extension().Quantize_forward(x, low, width, 256)
    try:
        for compiler, compiled in [(cannot_build, False), (torch.compile, True)]:
            use_compiled_quantizers(False)
            use_compiled_quantizers()
            assert not compiled_quantizers_in_use()  # nothing built before a quantizer runs
            monkeypatch.setattr(torch, "compile", compiler)
            quantize_forward = QuantizedFunctionsCPU.get("Quantize_forward")
            assert torch.equal(quantize_forward(x, low, width, 256), expected)
            assert compiled_quantizers_in_use() == compiled
    finally:
        monkeypatch.undo()
        use_compiled_quantizers()


@needs_glue
def test_qat_steps_with_compiled_quantizers_train_the_same_model_as_nncf(quantized):
    _, folder, batch, _, _ = quantized
    labels = torch.arange(len(batch["input_ids"])) % 2

    def three_steps(compiled: bool) -> dict:
        model = load_quantized(folder / "int8", get_task("mrpc")).train()  # turns them on
        use_compiled_quantizers(compiled)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        torch.manual_seed(0)  # the same dropout masks
        for _ in range(3):
            model(**batch, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        assert compiled_quantizers_in_use() == compiled
        return model.state_dict()

    try:
        theirs, ours = three_steps(compiled=False), three_steps(compiled=True)
    finally:
        use_compiled_quantizers()
    assert theirs.keys() == ours.keys()
    assert all(torch.equal(theirs[k], ours[k]) for k in theirs)


@needs_glue
def test_int8_onnx_is_standard_qdq_and_matches_pytorch(quantized, tmp_path):
    qmodel, _, batch, tokenizer, items = quantized
    path = tmp_path / "int8.onnx"
    export(strip_for_export(qmodel, batch), batch, path, opset=17)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert not any(node.domain == "org.openvinotoolkit" for node in onnx.load(str(path)).graph.node)
    loader = make_loader(items, tokenizer, 8)
    onnx_logits = ort_logits(path, loader)
    torch_logits = np.stack(predict(qmodel, loader, "cpu")["logits"])
    assert np.abs(onnx_logits - torch_logits).max() < 0.05
    assert (onnx_logits.argmax(-1) == torch_logits.argmax(-1)).mean() >= 0.9
    # Q/DQ run in float is NNCF's own arithmetic: what the parity gate's diagnosis relies on.
    emulated = ort_logits(path, loader, integer_kernels=False)
    np.testing.assert_allclose(emulated, torch_logits, atol=1e-4)


def int8_matrices(path) -> list:
    """The 2-D INT8 initializers of an ONNX file, as arrays."""
    return [onnx.numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer
            if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 2]


@needs_glue
def test_int8_weights_are_stored_as_int8_with_identical_outputs(quantized, tmp_path):
    qmodel, _, batch, tokenizer, items = quantized
    path = tmp_path / "int8.onnx"
    export(strip_for_export(qmodel, batch), batch, path, opset=17)
    loader = make_loader(items, tokenizer, 8)
    before = ort_logits(path, loader)
    size_before = path.stat().st_size
    store_weights_as_int8(path)
    after = ort_logits(path, loader)
    np.testing.assert_array_equal(before, after)
    assert len(int8_matrices(path)) >= 12  # 6 linear layers x 2 blocks at least
    assert path.stat().st_size < 0.75 * size_before
    # the embedding tables are looked up as INT8 rows, not dequantized whole on every run
    graph = onnx.load(str(path)).graph
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    lookups = [node for node in graph.node if node.op_type == "Gather"
               and "embeddings" in node.input[0]]
    assert lookups and all(made_by.get(node.input[0]) != "DequantizeLinear" for node in lookups)
    tables = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    assert any(node.input[0] in tables for node in lookups)


@pytest.mark.parametrize("scale, zero_point", [
    (np.array([0.5, 0.25, 2.0, 0.1], np.float32), np.array([0, 3, -2, 0], np.int8)),
    (np.array([0.5, 0.25, 2.0, 0.1], np.float32), np.zeros(4, np.int8)),
    (np.array(0.3, np.float32), np.array(-1, np.int8))])
def test_a_dequantized_table_is_looked_up_row_by_row_with_the_same_numbers(tmp_path, scale,
                                                                          zero_point):
    from onnx import TensorProto, helper, numpy_helper
    table = np.random.default_rng(0).integers(-128, 128, (4, 3)).astype(np.int8)
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["table", "scale", "zp"], ["floats"], axis=0),
         helper.make_node("Gather", ["floats", "ids"], ["rows"], axis=0)], "lookup",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "s"])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["b", "s", 3])],
        [numpy_helper.from_array(v, n) for n, v in
         (("table", table), ("scale", scale), ("zp", zero_point))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    ids = {"ids": np.array([[3, 0, 1], [2, 2, 3]], np.int64)}
    before = onnxruntime.InferenceSession(model.SerializeToString()).run(None, ids)[0]
    assert dequantize_looked_up_rows(model.graph) == 1
    onnx.checker.check_model(model)
    after = onnxruntime.InferenceSession(model.SerializeToString()).run(None, ids)[0]
    np.testing.assert_array_equal(before, after)
    assert [n.op_type for n in model.graph.node][0] == "Gather"
    assert model.graph.node[0].input[0] == "table"  # the INT8 rows, then their scale


@needs_glue
def test_presets_set_symmetric_or_asymmetric_activations(quantized, tiny_model_dir):
    qmodel, _, _, tokenizer, items = quantized
    modes = {type(m).__name__ for m in qmodel.modules() if "Quantizer" in type(m).__name__}
    assert {"SymmetricQuantizer", "AsymmetricQuantizer"} <= modes  # mixed
    scheme = Scheme("performance", True, (), subset_size=8)
    performance = quantize(load_task_model(tiny_model_dir, get_task("mrpc")),
                                        items, tokenizer, scheme, torch.device("cpu"))
    modes = {type(m).__name__ for m in performance.modules() if "Quantizer" in type(m).__name__}
    assert "AsymmetricQuantizer" not in modes


@needs_glue
def test_quantizer_scales_are_never_weight_decayed(quantized):
    qmodel = quantized[0]
    settings = TrainSettings(epochs=1, lr=1e-5, batch_size=8, weight_decay=0.1, warmup_ratio=0.0,
                             max_grad_norm=1.0, log_every=1, group_by_length=False, seed=0,
                             abort_grad_norm=None)
    decayed, plain = make_optimizer(qmodel, settings, torch.device("cpu")).param_groups
    names = {id(p): n for n, p in qmodel.named_parameters()}
    decayed_names = [names[id(p)] for p in decayed["params"]]
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert decayed_names and all(n.endswith("weight") and "nncf" not in n for n in decayed_names)
    assert any("_scale_param_storage" in names[id(p)] and p.dim() == 2 for p in plain["params"])
    assert not any("LayerNorm" in n or n.endswith("bias") for n in decayed_names)


def test_parity_gate_fails_beyond_the_tolerance_and_says_whether_the_export_is_to_blame():
    def never_asked():
        raise AssertionError("the float Q/DQ score is only computed on a failure")

    check_parity("int8", 85.0, 85.4, tolerance=0.5, float_qdq_main=never_asked)
    with pytest.raises(PipelineError, match="ONNX int8 scores 84.00 but PyTorch int8 scored "
                                            "85.40.*export.parity_tolerance 1.0.*85.30: the "
                                            "export kept the model, this CPU's INT8 kernels"
                                            ".*-S quantization.overflow_fix=true"):
        check_parity("int8", 84.0, 85.4, tolerance=1.0, float_qdq_main=lambda: 85.3)
    with pytest.raises(PipelineError, match="scores 84.10: the export changed it"):
        check_parity("int8", 84.0, 85.4, tolerance=1.0, float_qdq_main=lambda: 84.1)


def weight_readers(path) -> dict:
    """module name -> "int8" or "fp32" for every op that reads a weight (MatMul, Gemm, Gather
    of an embedding), judged from the ONNX graph alone."""
    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    constants = {init.name for init in graph.initializer}

    def source(name):  # look through the layout ops the exporter puts between
        node = producer.get(name)
        while node is not None and node.op_type in ("Transpose", "Reshape", "Identity"):
            name, node = node.input[0], producer.get(node.input[0])
        return "dq" if node is not None and node.op_type == "DequantizeLinear" else (
            "constant" if name in constants else "computed")

    kinds = {}
    for node in graph.node:
        module = onnx_module_name(node.name)
        if node.op_type == "MatMulInteger":
            kinds[module] = "int8"
        elif node.op_type in ("MatMul", "Gemm", "Gather") and node.input:
            sources = {source(name) for name in node.input[:2]}
            if "dq" in sources:
                kinds[module] = "int8"
            elif "constant" in sources and module not in kinds and node.op_type != "Gather" or \
                    node.op_type == "Gather" and source(node.input[0]) == "constant":
                kinds.setdefault(module, "fp32")
    return kinds


@needs_glue
def test_ignored_scope_leaves_the_named_layers_without_quantizers_in_onnx(
        quantized, tiny_model_dir, tmp_path):
    _, _, batch, tokenizer, items = quantized
    task = get_task("mrpc")
    scheme = Scheme("mixed", True, KEEP_HEAD_AND_WORDS, subset_size=8)
    model = load_task_model(tiny_model_dir, task)
    qmodel = quantize(model, items, tokenizer, scheme, torch.device("cpu"))
    static = tmp_path / "static.onnx"
    export(strip_for_export(qmodel, batch), batch, static, opset=17)
    store_weights_as_int8(static)

    fp32 = tmp_path / "fp32.onnx"
    export(load_task_model(tiny_model_dir, task), batch, fp32, opset=17)
    kept = ignored_modules(model, scheme.ignored_scope)
    assert kept == ["bert.embeddings.word_embeddings", "classifier"]
    dynamic = tmp_path / "dynamic.onnx"
    quantize_dynamic(fp32, dynamic, scheme, kept, "int8")

    for path in (static, dynamic):
        kinds = weight_readers(path)
        assert kinds["classifier"] == "fp32", path.name
        assert kinds["bert.encoder.layer.0.attention.self.query"] == "int8", path.name
        assert kinds["bert.encoder.layer.1.output.dense"] == "int8", path.name
    assert weight_readers(static)["bert.embeddings.word_embeddings"] == "fp32"
    # Without an ignored scope the same layers are quantized.
    quantize_dynamic(fp32, dynamic, MIXED, [], "int8")
    assert weight_readers(dynamic)["classifier"] == "int8"


@needs_glue
def test_per_tensor_weights_have_one_scale_per_tensor(quantized, tiny_model_dir, tmp_path):
    _, _, batch, tokenizer, items = quantized
    scales = {}
    for per_channel in (True, False):
        scheme = Scheme("mixed", per_channel, (), subset_size=8)
        qmodel = quantize(load_task_model(tiny_model_dir, get_task("mrpc")),
                                       items, tokenizer, scheme, torch.device("cpu"))
        path = tmp_path / f"{per_channel}.onnx"
        export(strip_for_export(qmodel, batch), batch, path, opset=17)
        store_weights_as_int8(path)
        graph = onnx.load(str(path)).graph
        initializers = {i.name: i for i in graph.initializer}
        weight_dq = [n for n in graph.node if n.op_type == "DequantizeLinear"
                     and initializers.get(n.input[0]) is not None
                     and initializers[n.input[0]].data_type == onnx.TensorProto.INT8]
        scales[per_channel] = {len(initializers[n.input[1]].dims) for n in weight_dq}
    assert scales == {True: {1}, False: {0}}


def test_an_ignored_scope_entry_that_matches_nothing_is_refused(tiny_model_dir):
    model = load_task_model(tiny_model_dir, get_task("mrpc"))
    assert ignored_modules(model, [r"bert\.encoder\.layer\.1\..*dense"]) == [
        "bert.encoder.layer.1.attention.output.dense", "bert.encoder.layer.1.intermediate.dense",
        "bert.encoder.layer.1.output.dense"]
    with pytest.raises(PipelineError, match="'classifer' matches no Linear or Embedding module"):
        ignored_modules(model, ["classifer"])


@needs_glue
def test_dynamic_quantization_runs_integer_kernels_close_to_fp32(quantized, tiny_model_dir,
                                                                  tmp_path):
    _, _, batch, tokenizer, items = quantized
    fp32 = tmp_path / "fp32.onnx"
    export(load_task_model(tiny_model_dir, get_task("mrpc")), batch, fp32, 17)
    dynamic = tmp_path / "dynamic.onnx"
    quantize_dynamic(fp32, dynamic, MIXED, [], "int8")
    assert "MatMulInteger" in {node.op_type for node in onnx.load(str(dynamic)).graph.node}
    loader = make_loader(items, tokenizer, 8)
    expected = ort_logits(fp32, loader)
    got = ort_logits(dynamic, loader)
    assert np.abs(expected - got).max() < 0.1
    assert len(int8_matrices(dynamic)) >= 12  # 6 linear layers x 2 blocks at least


def scheme_for(task: str, fp32_head="auto", ignored_scope=(), overflow_fix=False) -> Scheme:
    section = {"preset": "mixed", "per_channel": True, "fp32_head": fp32_head,
               "ignored_scope": list(ignored_scope), "subset_size": 8,
               "overflow_fix": overflow_fix}
    return Scheme.from_params({"quantization": section}, get_task(task))


def test_a_regression_task_keeps_its_output_layer_in_fp32_unless_told_otherwise(tiny_model_dir):
    assert scheme_for("stsb").fp32_head and not scheme_for("mrpc").fp32_head
    assert not scheme_for("squad").fp32_head
    assert not scheme_for("stsb", False).fp32_head and scheme_for("mrpc", True).fp32_head
    model = load_task_model(tiny_model_dir, get_task("stsb"))
    assert scheme_for("stsb").kept_modules(model) == ["classifier"]
    assert scheme_for("stsb", ignored_scope=["classifier"]).kept_modules(model) == ["classifier"]
    assert scheme_for("mrpc").kept_modules(model) == []
    assert scheme_for("stsb").describe("ptq_static").endswith("calib 8, FP32: head")


def test_the_output_layer_is_the_head_of_each_architecture():
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoModelForSequenceClassification,
        DistilBertConfig,
        RobertaConfig,
    )
    small = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 64, "vocab_size": 100}
    roberta = AutoModelForSequenceClassification.from_config(RobertaConfig(**small, num_labels=1))
    assert output_layer(roberta) == "classifier.out_proj"
    distil = DistilBertConfig(dim=32, n_layers=1, n_heads=2, hidden_dim=64, vocab_size=100)
    assert output_layer(AutoModelForSequenceClassification.from_config(distil)) == "classifier"
    assert output_layer(AutoModelForQuestionAnswering.from_config(distil)) == "qa_outputs"


@needs_glue
def test_an_fp32_head_carries_no_quantizer_in_the_onnx_graph(quantized, tiny_model_dir,
                                                             tmp_path):
    _, _, batch, tokenizer, items = quantized
    model = load_task_model(tiny_model_dir, get_task("stsb"))
    qmodel = quantize(model, items, tokenizer, scheme_for("stsb"), torch.device("cpu"))
    path = tmp_path / "static.onnx"
    export(strip_for_export(qmodel, batch), batch, path, opset=17)
    store_weights_as_int8(path)
    kinds = weight_readers(path)
    assert kinds["classifier"] == "fp32"
    assert kinds["bert.pooler.dense"] == kinds["bert.encoder.layer.1.output.dense"] == "int8"


def int8_weight_range(path) -> tuple:
    """The smallest and largest integer of the INT8 weights that an ONNX file multiplies by
    (embeddings, only looked up, keep their 8 bits)."""
    weights = multiplied_int8_weights(onnx.load(str(path))).values()
    assert len(weights) >= 12  # 6 linear layers x 2 blocks at least
    return min(int(w.min()) for w in weights), max(int(w.max()) for w in weights)


@needs_glue
@pytest.mark.parametrize("overflow_fix", [False, True])
def test_overflow_fix_keeps_every_int8_weight_within_7_bits(quantized, tiny_model_dir, tmp_path,
                                                            overflow_fix):
    """CPUs without VNNI add pairs of u8 x s8 products in int16: full-range weights can
    saturate it, 7-bit ones cannot. Static (NNCF) and dynamic (ONNX Runtime) alike."""
    _, _, batch, tokenizer, items = quantized
    scheme, task = scheme_for("mrpc", overflow_fix=overflow_fix), get_task("mrpc")
    qmodel = quantize(load_task_model(tiny_model_dir, task), items, tokenizer, scheme,
                      torch.device("cpu"))
    export(strip_for_export(qmodel, batch), batch, tmp_path / "static.onnx", opset=17)
    store_weights_as_int8(tmp_path / "static.onnx")
    export(load_task_model(tiny_model_dir, task), batch, tmp_path / "fp32.onnx", 17)
    quantize_dynamic(tmp_path / "fp32.onnx", tmp_path / "dynamic.onnx", scheme, [], "int8")
    for path in (tmp_path / "static.onnx", tmp_path / "dynamic.onnx"):
        low, high = int8_weight_range(path)
        if overflow_fix:
            assert -64 <= low and high <= 64, path.name
            check_seven_bit_weights(path, path.stem)  # the export stage's check passes
        else:
            assert max(-low, high) >= 127, path.name
            with pytest.raises(PipelineError, match="go beyond the 7 bits"):
                check_seven_bit_weights(path, path.stem)
    assert ("weights 7-bit" in scheme.describe("qat")) == overflow_fix
    assert ("int8 7-bit weights" in scheme.describe("ptq_dynamic")) == overflow_fix


def test_scheme_text_says_what_each_method_honoured():
    scheme = Scheme("performance", False, ("classifier",), 300)
    assert scheme.describe("qat") == ("NNCF performance, weights per-tensor, calib 300, "
                                      "FP32: classifier")
    assert scheme.describe("ptq_dynamic", "uint8") == (
        "ORT dynamic, uint8 weights per-tensor, uint8 activations, FP32: classifier")


def test_onnx_node_names_map_back_to_module_names():
    assert onnx_module_name(
        "/model/bert/encoder/layer.3/attention/self/query/MatMul") == \
        "bert.encoder.layer.3.attention.self.query"
    assert onnx_module_name("/model/classifier/Gemm") == "classifier"


def test_a_method_variant_is_named_from_its_params_nested_or_flattened():
    qat = get_method("qat")
    assert qat.label_for({"qat": {"distill": {"enabled": True}}}) == "QAT + distillation"
    assert qat.label_for({"qat.distill.enabled": True}) == "QAT + distillation"  # dvc exp show
    assert qat.label_for({"qat": {"distill": {"enabled": False}}}) == "QAT"
    assert get_method("ptq_static").label_for({}) == "PTQ static"


def accuracy_controlled(fp32_path, dest, feeds, reference, max_drop, max_iterations=None):
    """ptq_accuracy on `feeds` with a metric that only FP32 maximises (100): 100 minus the mean
    gap between a model's logits and FP32's, in hundredths, so any INT8 error is a drop."""
    def fidelity(outputs, indices):
        gaps = np.abs(np.stack(outputs["logits"]) - reference[indices]).mean(axis=1)
        return (100 - 100 * gaps).tolist()
    scoring = RowScoring(lambda outputs, indices: float(np.mean(fidelity(outputs, indices))),
                         fidelity)
    return quantize_with_accuracy_control(
        fp32_path, dest, feeds[:16], feeds, scoring, ["logits"], MIXED, [],
        Criterion(max_drop, "absolute"), bias_correction=False, ranking_subset_size=16,
        max_iterations=max_iterations)


def test_accuracy_control_selects_on_validation_held_out_or_last_training_rows(tmp_path,
                                                                            monkeypatch):
    prepared = tmp_path / "data" / "prepared"
    prepared.mkdir(parents=True)
    for split, count in (("train", 6), ("validation", 3), ("holdout", 2)):
        pd.DataFrame({"sentence": [f"{split} {i}" for i in range(count)], "label": 0}) \
            .to_json(prepared / f"{split}.jsonl", orient="records", lines=True)
    monkeypatch.chdir(tmp_path)
    task = get_task("sst2")
    held_out = selection_rows(task, {"select_on": "train", "select_rows": 2})
    assert held_out["sentence"].tolist() == ["train 4", "train 5"]
    assert held_out.index.tolist() == [0, 1]  # rows are found by position when scored
    assert selection_rows(task, {"select_on": "validation", "select_rows": 2})["sentence"] \
        .tolist() == ["validation 0", "validation 1", "validation 2"]
    assert selection_rows(task, {"select_on": "holdout", "select_rows": 2})["sentence"] \
        .tolist() == ["holdout 0", "holdout 1"]


@needs_glue
def test_accuracy_control_keeps_layers_in_fp32_until_the_drop_is_met(quantized, tiny_model_dir,
                                                                     tmp_path):
    _, _, _, tokenizer, items = quantized
    task = get_task("mrpc")
    # A fixed new head, whatever ran before: NNCF's model with every layer put back is not
    # always FP32 again (seen here: a head where it scored below the fully quantized model),
    # so some heads cannot meet a tight criterion at all.
    torch.manual_seed(3)
    export(load_task_model(tiny_model_dir, task), next(iter(make_loader(items, tokenizer, 2))),
           tmp_path / "fp32.onnx", 17)
    feeds = onnx_feeds(make_loader(items, tokenizer, 1), ["input_ids", "attention_mask",
                                                          "token_type_ids"])
    session = onnxruntime.InferenceSession(str(tmp_path / "fp32.onnx"))
    reference = np.concatenate([session.run(["logits"], feed)[0] for feed in feeds])

    loose = accuracy_controlled(tmp_path / "fp32.onnx", tmp_path / "all.onnx", feeds, reference,
                                max_drop=1e9)
    assert loose.kept_fp32 == [] and loose.met and loose.int8_main < loose.fp32_main == 100.0
    half = (100 - loose.int8_main) / 2
    tight = accuracy_controlled(tmp_path / "fp32.onnx", tmp_path / "kept.onnx", feeds, reference,
                                max_drop=half)
    assert tight.met and 100 - tight.int8_main <= half
    assert 1 <= len(tight.kept_fp32) < tight.quantized + len(tight.kept_fp32)
    # in the saved file, the layers named as kept read no DequantizeLinear; the others still do
    graph = onnx.load(str(tmp_path / "kept.onnx")).graph
    dequantized = {node.output[0] for node in graph.node if node.op_type == "DequantizeLinear"}
    reads_int8 = {layer_name(node.name): bool(dequantized & set(node.input))
                  for node in graph.node if node.op_type in ("MatMul", "Gemm")}
    assert not any(reads_int8[layer] for layer in tight.kept_fp32)
    assert sum(reads_int8.values()) == tight.quantized
    # capped: one layer back in FP32 at most, and the outcome says the criterion is not met
    capped = accuracy_controlled(tmp_path / "fp32.onnx", tmp_path / "capped.onnx", feeds,
                                 reference, max_drop=1e-6, max_iterations=1)
    assert len(capped.kept_fp32) <= 1 and not capped.met


def test_a_correlation_metric_keeps_nncf_in_metric_mode_one_row_at_a_time():
    """STS-B's Pearson has no value on one row; NNCF scores rows one at a time (its first
    call decides metric mode, the only ranking its ONNX backend has)."""
    from nncf.quantization.algorithms.accuracy_control.evaluator import Evaluator
    from onnx import TensorProto, helper
    from scipy.stats import pearsonr
    gold = np.array([1.0, 2.0, 3.5])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["logits"])], "identity",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    scoring = RowScoring(
        metric=lambda outputs, rows: 100 * pearsonr(np.stack(outputs["logits"])[:, 0],
                                                    gold[rows])[0],
        per_row=lambda outputs, rows: (-np.abs(np.stack(outputs["logits"])[:, 0]
                                               - gold[rows])).tolist())
    items = [(i, {"x": np.array([[v]], np.float32)}) for i, v in enumerate([1.5, 2.0, 3.0])]
    validate = Validator(scoring, ["logits"], len(items))
    assert validate(model, items[:1]) == (-0.5, [-0.5])
    metric, per_row = validate(model, items)
    assert per_row == [-0.5, 0.0, -0.5] and metric == pytest.approx(
        100 * pearsonr([1.5, 2.0, 3.0], gold)[0])
    dataset = nncf.Dataset(items, lambda item: item[1])
    assert Evaluator.determine_mode(_PreparedOnnx(model), dataset, validate) is True


class _PreparedOnnx:
    """What NNCF's Evaluator hands the validation function: the model to run."""
    def __init__(self, model):
        self.model_for_inference = model


def test_accuracy_criterion_reads_the_report_units():
    assert Criterion(1.0, "relative").nncf_max_drop == 0.01  # NNCF's relative drop: a fraction
    assert Criterion(1.0, "absolute").nncf_max_drop == 1.0
    assert Criterion(1.0, "relative").met(80.0, 79.2) and not Criterion(1.0, "relative").met(
        80.0, 79.1)
    assert layer_name("/model/bert/encoder/layer.1/output/dense/MatMul") == \
        "bert.encoder.layer.1.output.dense"
    assert layer_name("/model/bert/encoder/layer.0/attention/self/MatMul_1") == \
        "bert.encoder.layer.0.attention.self/MatMul_1"
