"""Training on several processes (DDP): torchrun starts them, accelerate wires them up.

`train.num_processes: N` makes a training stage start itself again as N torchrun processes on
this machine (gloo on CPU, NCCL on GPUs); a stage already started by `torchrun` or `accelerate
launch` (multi-node included) just joins. Every process computes its share of each global
batch, so the batch size and learning rate mean what params.yaml says whatever N is; rank 0
alone evaluates and writes.
"""
import os
import subprocess
import sys
import time

import torch

from ..core.errors import PipelineError
from ..core.runner import STARTED_AT, seconds_since_process_start


def launched() -> bool:
    """True inside a process started by torchrun / accelerate launch."""
    return "LOCAL_RANK" in os.environ


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return rank() == 0


def relaunch_if_asked(train_params: dict, module: str) -> None:
    """With num_processes > 1 and no launcher around us: run `python -m module` again as that
    many torchrun processes and exit with their status."""
    processes = train_params["num_processes"]
    if processes <= 1 or launched():
        return
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", "-m", module]
    print(f"starting {processes} training processes: {' '.join(command[2:])}", flush=True)
    started = time.time() - (seconds_since_process_start() or 0.0)
    env = {**os.environ, STARTED_AT: str(started)}  # the stage's wall time includes ours
    raise SystemExit(subprocess.run(command, env=env).returncode)


def check_devices(device: torch.device) -> None:
    """One GPU per process: more processes than GPUs would share (and slow) them."""
    if device.type == "cuda" and launched():
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise PipelineError(f"process {local} has no GPU of its own: "
                                f"{torch.cuda.device_count()} visible; set train.num_processes "
                                "to at most the GPU count")


def make_accelerator(device: torch.device, mixed_precision: str | None):
    """accelerate's Accelerator for this process: DDP when launched, autocast by param."""
    from accelerate import Accelerator
    check_devices(device)
    return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision or "no",
                       device_placement=True)


def share_of_batch(batch: dict, index: int, count: int) -> tuple[dict, float]:
    """This process's contiguous slice of a global batch, and the weight of its mean loss so
    that DDP's gradient average equals the gradient of the global batch's mean loss (slices
    may differ by one item). A process left without items reuses item 0 with weight 0, so it
    still joins the gradient all-reduce."""
    size = len(batch["input_ids"])
    start, end = size * index // count, size * (index + 1) // count
    if start == end:
        return {key: value[:1] for key, value in batch.items()}, 0.0
    return {key: value[start:end] for key, value in batch.items()}, (end - start) * count / size


def broadcast_object(obj, source: int = 0):
    """`obj` as process `source` has it, on every process (as is when not distributed)."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return obj
    holder = [obj]
    torch.distributed.broadcast_object_list(holder, src=source)
    return holder[0]
