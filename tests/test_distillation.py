"""Distillation during QAT: the loss on hand-computed examples, and that training uses it."""
import math
from types import SimpleNamespace

import pytest
import torch

from stages.lib.modeling.distillation import (
    DistillSettings,
    distillation_loss,
    distilling_loss_fn,
    soft_target_loss,
)
from stages.lib.tasks.registry import get_task


def test_soft_target_loss_matches_a_hand_computed_example():
    # T = 2: teacher [2, 1] -> softmax([1, .5]) = [s, 1-s], student [1, 2] -> [1-s, s], with
    # s = sigmoid(.5). KL = s ln(s/(1-s)) + (1-s) ln((1-s)/s) = (2s - 1) * 0.5; times T^2 = 4.
    s = 1 / (1 + math.exp(-0.5))
    expected = 4 * (2 * s - 1) * 0.5
    loss = soft_target_loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 1.0]]), 2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.48984, abs=1e-5)


def test_soft_target_loss_is_zero_when_student_agrees_and_averages_rows():
    logits = torch.tensor([[0.3, -1.2, 2.0]])
    assert soft_target_loss(logits, logits.clone(), 3.0).item() == pytest.approx(0.0, abs=1e-7)
    one = soft_target_loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0, 1.0]]), 2.0)
    two = soft_target_loss(torch.tensor([[1.0, 2.0], [0.0, 0.0]]),
                           torch.tensor([[2.0, 1.0], [0.0, 0.0]]), 2.0)
    assert two.item() == pytest.approx(one.item() / 2, rel=1e-6)  # batchmean


def test_regression_distills_with_mse_and_question_answering_averages_start_and_end():
    mse = distillation_loss({"logits": torch.tensor([[1.0], [3.0]])},
                            {"logits": torch.tensor([[2.0], [1.0]])}, distributions=False,
                            temperature=5.0)
    assert mse.item() == pytest.approx((1 + 4) / 2)  # temperature plays no part
    start, end = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])
    both = distillation_loss({"start_logits": start, "end_logits": end},
                             {"start_logits": start.flip(-1), "end_logits": end},
                             distributions=True, temperature=2.0)
    assert both.item() == pytest.approx(soft_target_loss(start, start.flip(-1), 2.0).item() / 2)


class FixedModel(torch.nn.Module):
    """Returns set logits and task loss, and records the inputs it was given."""

    def __init__(self, logits, loss=0.0):
        super().__init__()
        self.logits, self.loss, self.seen = logits, torch.tensor(loss), None

    def forward(self, **inputs):
        self.seen = set(inputs)
        return SimpleNamespace(logits=self.logits, loss=self.loss)


def test_mixed_loss_weights_task_and_distillation_by_alpha_and_hides_labels_from_teacher():
    student = FixedModel(torch.tensor([[1.0, 2.0]]), loss=0.7)
    teacher = FixedModel(torch.tensor([[2.0, 1.0]]))
    loss_fn = distilling_loss_fn(teacher, get_task("mrpc"), DistillSettings(0.25, 2.0))
    batch = {"input_ids": torch.ones(1, 3), "labels": torch.tensor([1])}
    soft = soft_target_loss(student.logits, teacher.logits, 2.0).item()
    assert loss_fn(student, batch).item() == pytest.approx(0.75 * 0.7 + 0.25 * soft, rel=1e-6)
    assert student.seen == {"input_ids", "labels"} and teacher.seen == {"input_ids"}


def test_distillation_is_off_unless_enabled():
    assert DistillSettings.from_params({"enabled": False, "alpha": 0.5, "temperature": 2}) is None
    assert DistillSettings.from_params({"enabled": True, "alpha": 0.5, "temperature": 2}) == \
        DistillSettings(0.5, 2)
