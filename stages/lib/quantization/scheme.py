"""The INT8 scheme in params.yaml (`quantization:`), shared by every method."""
import re
from dataclasses import dataclass

import torch

from ..core.errors import PipelineError


@dataclass(frozen=True)
class Scheme:
    preset: str
    per_channel: bool
    ignored_scope: tuple   # regexes over module names
    subset_size: int
    fp32_head: bool = False  # the output layer (the model's last Linear) stays FP32
    overflow_fix: bool = False  # weights use 7 of their 8 bits (see params.yaml)

    @classmethod
    def from_params(cls, params: dict, task) -> "Scheme":
        section = params["quantization"]
        head = section["fp32_head"]
        return cls(section["preset"], section["per_channel"], tuple(section["ignored_scope"]),
                   section["subset_size"],
                   task.kind.fp32_head_by_default if head == "auto" else head,
                   section["overflow_fix"])

    def kept_modules(self, model) -> list:
        """Names of the Linear and Embedding modules this scheme keeps in FP32."""
        kept = ignored_modules(model, self.ignored_scope)
        head = output_layer(model) if self.fp32_head else None
        return kept + [head] if head and head not in kept else kept

    def describe(self, method: str, weight_type: str = "int8", fused: bool = False) -> str:
        """One line for the results table: what this method honoured of the scheme."""
        channels = "per-channel" if self.per_channel else "per-tensor"
        fp32 = [*self.ignored_scope, *(["head"] if self.fp32_head else [])]
        kept = f", FP32: {' '.join(fp32)}" if fp32 else ""
        bits = " 7-bit" if self.overflow_fix else ""
        if method == "ptq_dynamic":
            graph = ", fused graph" if fused else ""
            return (f"ORT dynamic, {weight_type}{bits} weights {channels}, uint8 activations"
                    f"{graph}{kept}")
        return f"NNCF {self.preset}, weights{bits} {channels}, calib {self.subset_size}{kept}"


def ignored_modules(model, patterns) -> list:
    """Names of the Linear and Embedding modules that the ignored scope keeps in FP32."""
    weighted = [name for name, module in model.named_modules()
                if isinstance(module, (torch.nn.Linear, torch.nn.Embedding))]
    for pattern in patterns:
        if not any(re.fullmatch(pattern, name) for name in weighted):
            raise PipelineError(
                f"quantization.ignored_scope entry {pattern!r} matches no Linear or Embedding "
                f"module of the model; names look like {', '.join(weighted[:2])}, "
                f"{weighted[-1]}")
    return [name for name in weighted if any(re.fullmatch(p, name) for p in patterns)]


def output_layer(model) -> str:
    """The Linear that writes the model's outputs: transformers builds the task head last, so
    it is the last Linear module (BERT's classifier, RoBERTa's classifier.out_proj,
    qa_outputs)."""
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear)][-1]
