"""Knowledge distillation during QAT: the FP32 fine-tuned model teaches its INT8 copy.

The loss mixes the task loss with the teacher's soft targets, as Hinton et al. (2015) and the
NNCF transformers patch did: (1 - alpha) * task + alpha * distillation.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

TARGET_KEYS = ("labels", "start_positions", "end_positions")


@dataclass(frozen=True)
class DistillSettings:
    alpha: float
    temperature: float

    @classmethod
    def from_params(cls, section: dict) -> "DistillSettings | None":
        return cls(section["alpha"], section["temperature"]) if section["enabled"] else None


def soft_target_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float):
    """KL(teacher || student) on softmaxes softened by T, times T^2 so that its gradients keep
    their size whatever T is; averaged over the rows."""
    return F.kl_div(F.log_softmax(student / temperature, dim=-1),
                    F.log_softmax(teacher / temperature, dim=-1),
                    log_target=True, reduction="batchmean") * temperature ** 2


def distillation_loss(student: dict, teacher: dict, distributions: bool, temperature: float):
    """Mean over the outputs (logits; or start and end logits for question answering):
    softened KL where the outputs are logits of a distribution, else mean squared error."""
    losses = [F.mse_loss(student[name], teacher[name]) if not distributions
              else soft_target_loss(student[name], teacher[name], temperature)
              for name in teacher]
    return sum(losses) / len(losses)


def distilling_loss_fn(teacher, task, settings: DistillSettings):
    """A `loss_fn(model, batch)` for training.train: the mixed loss against `teacher`."""
    teacher.eval()

    def loss_fn(model, batch):
        outputs = model(**batch)
        with torch.no_grad():
            taught = teacher(**{k: v for k, v in batch.items() if k not in TARGET_KEYS})
        names = task.output_names
        soft = distillation_loss({n: getattr(outputs, n) for n in names},
                                 {n: getattr(taught, n) for n in names},
                                 task.kind.outputs_are_distributions, settings.temperature)
        return (1 - settings.alpha) * outputs.loss + settings.alpha * soft
    return loss_fn
