from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from accelerate.state import AcceleratorState
from transformers import AutoTokenizer

from stages.lib.core.errors import PipelineError
from stages.lib.modeling.base_models import model_source, snapshot_base_model
from stages.lib.modeling.checkpoints import Checkpointer
from stages.lib.modeling.device import pick_device
from stages.lib.modeling.distributed import make_accelerator
from stages.lib.modeling.inputs import make_loader, predict, to_device
from stages.lib.modeling.models import load_task_model
from stages.lib.modeling.train_settings import TrainSettings
from stages.lib.modeling.training import train
from stages.lib.tasks.kinds import EXTRACTIVE_QA, REGRESSION, encode
from stages.lib.tasks.registry import TASKS, get_task

CPU = make_accelerator(torch.device("cpu"), None)


def good_bad_items(tokenizer, count: int) -> list:
    """A trivially learnable rule: sentences with "good" are positive."""
    texts = [f"{w} {i}" for i in range(count) for w in ("good", "bad")]
    frame = pd.DataFrame({"text_a": texts, "text_b": None,
                          "label": [int(t.startswith("good")) for t in texts]})
    return encode(tokenizer, frame, 16)


def train_settings(**changes) -> TrainSettings:
    base = dict(epochs=1, lr=1e-3, batch_size=2, weight_decay=0.0, warmup_ratio=0.0,
                max_grad_norm=1.0, log_every=1, group_by_length=False, seed=0,
                abort_grad_norm=None)
    return TrainSettings(**{**base, **changes})


def test_model_names_resolve_to_their_source(tiny_model_dir):
    assert model_source("minilm-l6") == "packaged"
    assert model_source(str(tiny_model_dir)) == "local"
    assert model_source("bert-base-uncased") == "hub"
    assert model_source("google/bert_uncased_L-2_H-128_A-2") == "hub"
    assert model_source("Intel/bert-base-uncased-mrpc.v2") == "hub"  # a dot, no folder


@pytest.mark.parametrize("name, message", [
    ("./models/missing", "model folder './models/missing' does not exist"),
    ("bert base uncased!", "unknown model 'bert base uncased!'"),
])
def test_unknown_models_are_refused(name, message):
    with pytest.raises(PipelineError, match=message):
        model_source(name)


def test_hub_model_while_offline_is_a_clear_error(tmp_path):
    with pytest.raises(PipelineError, match="(?s)could not load model 'bert-base-uncased' \\(hub\\)"
                                            ".*model.name=minilm-l6"):
        snapshot_base_model("bert-base-uncased", tmp_path / "base")


def test_a_folder_without_a_model_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match="must hold a Hugging Face model"):
        snapshot_base_model(str(tmp_path / "empty"), tmp_path / "base")


def test_cuda_without_a_gpu_is_refused_and_auto_falls_back():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(PipelineError, match="device=cuda but no CUDA GPU.*-S device=auto"):
        pick_device("cuda")
    assert pick_device("auto").type == "cpu"


def test_auto_picks_cuda_when_a_gpu_is_present_and_cpu_stays_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    assert pick_device("cuda").type == "cuda"
    assert pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("name", sorted(n for n, t in TASKS.items() if t.kind is not EXTRACTIVE_QA))
def test_encoding_keeps_pairs_apart_and_truncates(tiny_model_dir, name):
    task = get_task(name)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    pair = len(task.text_fields) == 2
    frame = pd.DataFrame({"text_a": ["a cat sat", "x" * 200],
                          "text_b": ["on a mat", "y" * 200] if pair else [None, None],
                          "label": [1.5, 0.0] if task.kind is REGRESSION else [1, 0]})
    items = encode(tokenizer, frame, max_length=24)
    assert all(len(item["input_ids"]) <= 24 for item in items)
    assert items[1]["input_ids"][-1] == tokenizer.sep_token_id  # truncation keeps [SEP]
    assert (1 in items[0]["token_type_ids"]) == pair
    batch = next(iter(make_loader(items, tokenizer, batch_size=2)))
    assert batch["labels"].dtype == (torch.float32 if task.kind is REGRESSION else torch.int64)
    model = load_task_model(tiny_model_dir, task)
    unlabeled = encode(tokenizer, frame, max_length=24, with_labels=False)
    outputs = predict(model, make_loader(unlabeled, tokenizer, 2), "cpu")
    assert np.stack(outputs["logits"]).shape == (2, task.num_labels)


def test_nan_loss_stops_training_with_a_clear_error(tiny_model_dir):
    task = get_task("stsb")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    frame = pd.DataFrame({"text_a": ["a", "b"], "text_b": ["c", "d"], "label": [np.nan, 1.0]})
    items = encode(tokenizer, frame, 16)
    settings = train_settings()
    with pytest.raises(PipelineError, match="test, step 1: the loss became nan; lower the "
                                            "learning rate"):
        train(load_task_model(tiny_model_dir, task), items, tokenizer, settings,
              CPU, evaluate_fn=lambda m: {}, desc="test")


def test_exploding_gradients_stop_training_with_the_limit_named(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    items = encode(tokenizer, pd.DataFrame({"text_a": ["a b", "c"], "text_b": None,
                                                     "label": [0, 1]}), 16)
    settings = train_settings(abort_grad_norm=1e-6)
    with pytest.raises(PipelineError, match=r"step 1: the gradient norm is .* above "
                                            r"train.abort_grad_norm=1e-06: training is diverging"):
        train(load_task_model(tiny_model_dir, get_task("sst2")), items, tokenizer,
              settings, CPU, evaluate_fn=lambda m: {}, desc="test")


def test_interrupted_training_resumes_from_its_checkpoint_to_the_same_result(
        tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task, tokenizer = get_task("sst2"), AutoTokenizer.from_pretrained(tiny_model_dir)
    items = good_bad_items(tokenizer, 24)
    settings = train_settings(epochs=2.5, lr=3e-3, batch_size=8, weight_decay=0.01,
                              warmup_ratio=0.2, log_every=3, group_by_length=True, seed=7)

    def run(stop_at=None):
        torch.manual_seed(0)
        model = load_task_model(tiny_model_dir, task)  # dropout on: RNG must resume
        calls = []

        def loss_fn(m, batch):
            calls.append(1)
            if len(calls) == stop_at:
                raise KeyboardInterrupt  # a kill, as far as the checkpoint can tell
            return m(**batch).loss
        checkpointer = Checkpointer("test", 4, {"run": 1}, files=[])
        curves = train(model, items, tokenizer, settings, CPU, evaluate_fn=lambda m: {"x": 1},
                       desc="test", loss_fn=loss_fn, checkpointer=checkpointer)
        checkpointer.clear()  # as a stage does once its outputs are written
        return curves, model.state_dict(), len(calls)

    whole, weights, steps = run()
    assert steps == 15 and not Path("models/checkpoints/test").exists()  # 6 steps per epoch
    with pytest.raises(KeyboardInterrupt):
        run(stop_at=11)
    assert Path("models/checkpoints/test/trainer.pt").is_file()
    resumed, resumed_weights, resumed_steps = run()
    assert resumed_steps == 15 - 8  # from the step-8 checkpoint
    assert resumed.loss == whole.loss and resumed.eval == whole.eval
    assert all(torch.equal(weights[k], resumed_weights[k]) for k in weights)
    assert resumed.steps == whole.steps == 15 and resumed.examples == whole.examples


def test_training_is_deterministic_and_learns(tiny_model_dir):
    task = get_task("sst2")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    items = good_bad_items(tokenizer, 32)
    settings = train_settings(epochs=10, lr=3e-3, batch_size=16, log_every=4,
                              group_by_length=True, seed=7)
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = load_task_model(tiny_model_dir, task)
        curves = train(model, items, tokenizer, settings, CPU,
                       evaluate_fn=lambda m: {"main": 0.0}, desc="test")
        losses.append([row["loss"] for row in curves.loss])
    assert losses[0] == losses[1]
    assert losses[0][-1] < 0.5 * losses[0][0]
    assert [row["epoch"] for row in curves.eval] == [float(e) for e in range(1, 11)]
    speed = curves.throughput()
    assert speed["steps"] == 40 and speed["step_ms"] > 0 and speed["examples_per_s"] > 0


def test_length_grouping_pads_less_and_still_sees_every_item_once(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rng = np.random.default_rng(0)
    texts = ["x" * int(n) for n in rng.integers(1, 60, size=256)]
    frame = pd.DataFrame({"text_a": texts, "text_b": None, "label": 0})
    items = encode(tokenizer, frame, 64)
    for index, item in enumerate(items):
        item["labels"] = index  # to tell the items apart in the batches
    padded, seen = {}, {}
    for grouped in (False, True):
        batches = list(make_loader(items, tokenizer, 16, shuffle=True, seed=3,
                                            group_by_length=grouped))
        padded[grouped] = sum(b["input_ids"].numel() for b in batches)
        seen[grouped] = sorted(int(i) for b in batches for i in b["labels"])
    assert seen[True] == seen[False] == list(range(256))
    assert padded[True] < 0.75 * padded[False]


def test_bf16_mixed_precision_trains_and_leaves_a_plain_fp32_model(tiny_model_dir):
    task, tokenizer = get_task("sst2"), AutoTokenizer.from_pretrained(tiny_model_dir)
    items = good_bad_items(tokenizer, 16)
    settings = train_settings(epochs=4, lr=3e-3, batch_size=8, log_every=4)
    model = load_task_model(tiny_model_dir, task)
    seen = []
    model.classifier.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    AcceleratorState._reset_state(True)  # a stage makes one Accelerator; tests make several
    try:
        curves = train(model, items, tokenizer, settings,
                       make_accelerator(torch.device("cpu"), "bf16"), evaluate_fn=lambda m: {},
                       desc="bf16")
    finally:
        AcceleratorState._reset_state(True)
    assert torch.bfloat16 in seen  # autocast was on while training
    assert curves.loss[-1]["loss"] < curves.loss[0]["loss"]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    seen.clear()
    model(**to_device(next(iter(make_loader(items, tokenizer, 2))), "cpu"))
    assert seen == [torch.float32]  # and is off again for whoever uses the model next
