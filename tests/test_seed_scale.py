"""The seeds'-scale measurement tool, on a tiny shape: every figure the docs table shows is
measured (steps, calibration, export, parity) and the full-recipe estimate is derived."""
import torch
from conftest import REPO
from tiny_model import tiny_config, tiny_tokenizer

from stages.tools import seed_scale


def test_a_shape_goes_through_training_steps_calibration_export_and_parity(monkeypatch):
    monkeypatch.chdir(REPO)  # the recipes live in data/recipes/
    tokenizer = tiny_tokenizer()
    monkeypatch.setitem(seed_scale.SHAPES, "tiny", (
        lambda: tiny_config(tokenizer, num_labels=2), "cls", "q8bert_mrpc_bert_base", 16, 4, 4))
    result = seed_scale.measure("tiny", steps=2, device=torch.device("cpu"), tokenizer=tokenizer)
    assert len(result["fp32"]["step_s"]) == 2 and min(result["qat"]["step_s"]) > 0
    assert result["onnx_int8_mb"] > 0 and result["peak_rss_mb"] > 0
    assert result["max_logit_gap"] < 0.1  # the INT8 ONNX file computes what NNCF's model does
    result["estimate"] = seed_scale.full_run(result)
    mrpc = result["estimate"]
    assert mrpc["fp32"]["steps"] == 3 * 115 and mrpc["qat"]["global_batch"] == 32  # 3668 / 32
    row = seed_scale.table([result]).splitlines()[-1]
    assert row.startswith("| tiny | `q8bert_mrpc_bert_base` |")
