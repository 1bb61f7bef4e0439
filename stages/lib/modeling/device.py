"""The device everything runs on."""

import torch

from ..core.errors import PipelineError


def require_gpu_if_asked(requested: str) -> None:
    if requested == "cuda" and not torch.cuda.is_available():
        raise PipelineError("device=cuda but no CUDA GPU is visible to torch; use -S device=auto "
                            "(CUDA when present, else CPU) or -S device=cpu")


def pick_device(requested: str) -> torch.device:
    require_gpu_if_asked(requested)
    if requested == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
