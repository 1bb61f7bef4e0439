"""Exported graphs the runtimes run fast: no NaN guards, ONNX Runtime's fused transformer ops,
the same outputs as PyTorch, and OpenVINO told apart from files it cannot read."""
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from transformers import AutoTokenizer

from stages.lib.inference.engines import onnxruntime_engine, openvino_engine
from stages.lib.inference.fusion import drop_nan_guards, fused_ops, openvino_cannot_read
from stages.lib.inference.onnx_export import export, export_fp32
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.ort_backend import quantize_dynamic
from stages.lib.quantization.scheme import Scheme
from stages.lib.tasks.registry import get_task

TASK = get_task("mrpc")


@pytest.fixture(scope="module")
def batch(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return dict(tokenizer(["a first sentence", "and a much longer second sentence here"],
                          ["its pair", "the other pair"], padding=True, return_tensors="pt"))


def torch_logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits.numpy()


def guarded_softmax_graph() -> onnx.ModelProto:
    """Softmax -> Where(IsNaN(p), 0, p) -> MatMul, as PyTorch's SDPA export writes it."""
    nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=-1),
             helper.make_node("IsNaN", ["p"], ["nan"]),
             helper.make_node("Constant", [], ["zero"],
                              value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Where", ["nan", "zero", "p"], ["guarded"]),
             helper.make_node("MatMul", ["guarded", "v"], ["y"])]
    graph = helper.make_graph(
        nodes, "guard", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
                         helper.make_tensor_value_info("v", TensorProto.FLOAT, [3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_nan_guards_go_and_the_numbers_stay():
    import onnxruntime as ort
    model = guarded_softmax_graph()
    feeds = {"x": np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32),
             "v": np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)}

    def run(m):
        return ort.InferenceSession(m.SerializeToString()).run(None, feeds)[0]
    before = run(model)
    assert drop_nan_guards(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Softmax", "MatMul"]
    np.testing.assert_array_equal(run(model), before)
    assert drop_nan_guards(model) == 0


def test_an_exported_model_has_no_nan_guard_and_gives_the_pytorch_logits(
        tiny_model_dir, batch, tmp_path):
    model = load_task_model(tiny_model_dir, TASK).eval()
    export(model, batch, tmp_path / "m.onnx", opset=17)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert "IsNaN" not in ops and "Softmax" in ops
    np.testing.assert_allclose(onnxruntime_engine("fp32", tmp_path / "m.onnx", 1).infer(batch)
                               ["logits"], torch_logits(model, batch), atol=1e-5)


def test_fused_fp32_keeps_the_logits_on_both_runtimes_and_dynamic_int8_fuses_attention(
        tiny_model_dir, batch, tmp_path):
    model = load_task_model(tiny_model_dir, TASK).eval()
    expected = torch_logits(model, batch)
    fused = export_fp32(model, batch, tmp_path / "fp32.onnx", 17, ("logits",), fuse=True)
    layers = model.config.num_hidden_layers
    assert fused["Attention"] == layers and fused["SkipLayerNormalization"] == 2 * layers
    assert fused == fused_ops(onnx.load(str(tmp_path / "fp32.onnx")))
    assert openvino_cannot_read(tmp_path / "fp32.onnx") is None
    for engine in (onnxruntime_engine("fp32", tmp_path / "fp32.onnx", 1),
                   openvino_engine("fp32", tmp_path / "fp32.onnx", 1, "f32")):
        np.testing.assert_allclose(engine.infer(batch)["logits"], expected, atol=1e-4,
                                   err_msg=engine.name)

    quantize_dynamic(tmp_path / "fp32.onnx", tmp_path / "int8.onnx",
                     Scheme("mixed", True, (), 300), [], "int8")
    int8 = onnx.load(str(tmp_path / "int8.onnx"))
    assert fused_ops(int8).get("QAttention") == layers
    assert "QAttention" in openvino_cannot_read(tmp_path / "int8.onnx")
    logits = onnxruntime_engine("ptq_dynamic", tmp_path / "int8.onnx", 1).infer(batch)["logits"]
    np.testing.assert_allclose(logits, expected, atol=0.05)
