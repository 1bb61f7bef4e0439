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

    @classmethod
    def from_params(cls, params: dict) -> "Scheme":
        section = params["quantization"]
        return cls(section["preset"], section["per_channel"], tuple(section["ignored_scope"]),
                   section["subset_size"])

    def describe(self, method: str, weight_type: str = "int8", fused: bool = False) -> str:
        """One line for the results table: what this method honoured of the scheme."""
        channels = "per-channel" if self.per_channel else "per-tensor"
        kept = f", FP32: {' '.join(self.ignored_scope)}" if self.ignored_scope else ""
        if method == "ptq_dynamic":
            graph = ", fused graph" if fused else ""
            return (f"ORT dynamic, {weight_type} weights {channels}, uint8 activations"
                    f"{graph}{kept}")
        return f"NNCF {self.preset}, weights {channels}, calib {self.subset_size}{kept}"


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
