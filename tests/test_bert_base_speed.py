"""The BERT-base speed comparison: every model it makes, on both runtimes, and its speedups."""
import pandas as pd
import torch
from transformers import AutoTokenizer

from stages.lib.modeling.inputs import latency_batch
from stages.lib.quantization.scheme import Scheme
from stages.lib.tasks.kinds import encode
from stages.tools import bert_base_speed as tool

SENTENCES = ["a gripping film", "dull and far too long", "the cast shines", "not for me"]


def test_fp32_and_both_ptq_files_are_timed_on_both_runtimes_with_speedups(tiny_model_dir,
                                                                          tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    frame = pd.DataFrame({"text_a": SENTENCES, "text_b": None, "label": [1, 0, 1, 0]})
    items = encode(tokenizer, frame, 16)
    torch.manual_seed(0)
    paths = tool.make_models(tmp_path, 1, tokenizer, items, latency_batch(tokenizer, frame, 2, 8),
                             Scheme("mixed", True, (), subset_size=4), opset=17)
    assert sorted(paths) == ["fp32", "ptq_dynamic", "ptq_static"]
    batches = {(2, 8): latency_batch(tokenizer, frame, 2, 8)}
    rows, not_run = tool.time_engines(paths, batches, 1, {"warmup": 0, "repeats": 1,
                                                               "min_seconds": None})
    timed = set(zip(rows["model"], rows["runtime"]))
    assert {("fp32", "onnxruntime"), ("ptq_dynamic", "onnxruntime"), ("ptq_static", "onnxruntime"),
            ("fp32", "openvino"), ("ptq_static", "openvino")} <= timed
    # ONNX Runtime's QAttention of the fused dynamic file exists in ONNX Runtime only
    assert ("ptq_dynamic", "openvino") not in timed
    assert any(line.startswith("ptq_dynamic on openvino") for line in not_run)
    table = tool.speedups(rows)
    assert len(table) == len(rows) - 2  # every INT8 engine, against both FP32 baselines
    assert (table["vs ORT FP32"] > 0).all() and (table["vs fastest float"] > 0).all()
