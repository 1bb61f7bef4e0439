"""Starting from a checkpoint already fine-tuned for the task (model.finetuned): its head is
kept, put in the task's label order by name, and refused when it does not fit the task."""
import json

import pandas as pd
import pytest
import torch
from conftest import needs_glue, run_stage, small_params, write_params
from tiny_model import build_tiny_bert, tiny_tokenizer
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    BertForQuestionAnswering,
    BertForSequenceClassification,
)

from stages.lib.core.errors import PipelineError
from stages.lib.modeling.base_models import snapshot_base_model
from stages.lib.tasks.registry import get_task

MNLI_CHECKPOINT_LABELS = ["CONTRADICTION", "NEUTRAL", "ENTAILMENT"]  # roberta-large-mnli's order


def checkpoint(folder, labels, model_class=BertForSequenceClassification):
    return build_tiny_bert(folder, seed=1, model_class=model_class, num_labels=len(labels),
                           id2label=dict(enumerate(labels)),
                           label2id={name: i for i, name in enumerate(labels)})


def logits(folder, loader=AutoModelForSequenceClassification):
    model = loader.from_pretrained(folder).eval()
    batch = tiny_tokenizer()(["a man plays", "nobody is here at all"], ["music", "a crowd"],
                             padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch), model.config


def test_a_checkpoint_in_another_label_order_predicts_the_same_labels_by_name(tmp_path):
    original = checkpoint(tmp_path / "mnli-checkpoint", MNLI_CHECKPOINT_LABELS)
    snapshot_base_model(str(original), tmp_path / "base", finetuned_for=get_task("mnli"))
    theirs, _ = logits(original)
    ours, config = logits(tmp_path / "base")
    for i, name in config.id2label.items():
        their_row = [label.lower() for label in MNLI_CHECKPOINT_LABELS].index(name)
        torch.testing.assert_close(ours.logits[:, i], theirs.logits[:, their_row])
    assert list(config.id2label.values()) == ["entailment", "neutral", "contradiction"]
    assert not torch.equal(ours.logits, theirs.logits)  # rows really moved


def test_label_aliases_and_unnamed_labels_align(tmp_path, capsys):
    named = checkpoint(tmp_path / "sst2", ["POSITIVE", "NEGATIVE"])
    snapshot_base_model(str(named), tmp_path / "named", finetuned_for=get_task("sst2"))
    theirs, ours = logits(named)[0].logits, logits(tmp_path / "named")[0].logits
    torch.testing.assert_close(ours, theirs[:, [1, 0]])  # GLUE SST-2: 0 negative, 1 positive

    unnamed = checkpoint(tmp_path / "mrpc", ["LABEL_0", "LABEL_1"])
    snapshot_base_model(str(unnamed), tmp_path / "unnamed", finetuned_for=get_task("mrpc"))
    torch.testing.assert_close(logits(tmp_path / "unnamed")[0].logits, logits(unnamed)[0].logits)
    assert "labels are unnamed" in capsys.readouterr().out


@pytest.mark.parametrize("labels, task, message", [
    (["cat", "dog", "bird"], "mnli", r"\['cat', 'dog', 'bird'\].*\['entailment', 'neutral', "),
    (["entailment", "contradiction"], "mnli", "cannot match the labels"),
    (["negative", "positive"], "stsb", "needs one score"),
])
def test_a_head_that_does_not_fit_the_task_is_refused_naming_both_label_lists(
        tmp_path, labels, task, message):
    folder = checkpoint(tmp_path / "ckpt", labels)
    with pytest.raises(PipelineError, match=message):
        snapshot_base_model(str(folder), tmp_path / "base", finetuned_for=get_task(task))
    assert not (tmp_path / "base").exists()


def test_an_encoder_without_a_head_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(PipelineError, match="no fine-tuned text-classification head.*"
                                            "model.finetuned=false"):
        snapshot_base_model(str(tiny_model_dir), tmp_path / "base",
                            finetuned_for=get_task("mrpc"))


def test_a_question_answering_head_is_kept(tmp_path):
    original = build_tiny_bert(tmp_path / "qa", seed=2, model_class=BertForQuestionAnswering)
    snapshot_base_model(str(original), tmp_path / "base", finetuned_for=get_task("squad"))
    theirs = logits(original, AutoModelForQuestionAnswering)[0]
    ours = logits(tmp_path / "base", AutoModelForQuestionAnswering)[0]
    torch.testing.assert_close(ours.start_logits, theirs.start_logits)
    torch.testing.assert_close(ours.end_logits, theirs.end_logits)


@needs_glue
def test_finetune_stage_keeps_the_published_checkpoint_and_scores_it(workspace, tmp_path):
    original = checkpoint(tmp_path / "mrpc-checkpoint", ["equivalent", "not_equivalent"])
    write_params(workspace, small_params(original, **{"model.finetuned": True}))
    for stage in ("download", "finetune"):
        done = run_stage(workspace, stage)
        assert done.returncode == 0, done.stderr[-2000:]
    assert "as published, not trained" in done.stdout
    fp32, _ = logits(workspace / "models/fp32")
    theirs, _ = logits(original)
    torch.testing.assert_close(fp32.logits, theirs.logits[:, [1, 0]])
    curves = workspace / "reports/curves"
    assert pd.read_csv(curves / "finetune_loss.csv").empty
    assert pd.read_csv(curves / "finetune_eval.csv")["step"].tolist() == [0]
    assert json.loads((workspace / "models/fp32/config.json").read_text())["id2label"] == {
        "0": "0", "1": "1"}
