"""The settings of one training run, from the finetune: or qat: section of params.yaml."""
from dataclasses import dataclass

# What the finetune: and qat: sections of params.yaml hold (qat: adds distill:).
SECTION_KEYS = ("epochs", "lr", "batch_size", "weight_decay", "warmup_ratio", "max_grad_norm",
                "log_every", "group_by_length")


@dataclass
class TrainSettings:
    epochs: float
    lr: float
    batch_size: int
    weight_decay: float
    warmup_ratio: float
    max_grad_norm: float
    log_every: int
    group_by_length: bool
    seed: int
    abort_grad_norm: float | None  # a gradient norm above this stops training (divergence)

    @classmethod
    def from_params(cls, params: dict, section: str):
        return cls(**{key: params[section][key] for key in SECTION_KEYS}, seed=params["seed"],
                   abort_grad_norm=params["train"]["abort_grad_norm"])
