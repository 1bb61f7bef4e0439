"""Resumable training: the whole training state every `train.checkpoint_every` steps, so that a
killed stage, run again, goes on from its last checkpoint to the same result.

A checkpoint is used only by a run with the same inputs: its fingerprint covers the params
that shape training and the bytes of the data and starting weights (not the code). It lives
outside every DVC output, in models/checkpoints/<stage>/, and goes once the stage's outputs are
written. Nothing is unpickled: weights are safetensors, the rest loads with weights_only.
"""
import hashlib
import json
import random
import shutil

import torch
from safetensors.torch import load_file, save_file

from ..core.files import digest_file
from ..core.paths import CHECKPOINTS
from .distributed import is_main, rank, world_size

MODEL, TRAINER = "model.safetensors", "trainer.pt"


def fingerprint(identity: dict, files: list) -> str:
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    for path in files:
        digest_file(path, digest)
    return digest.hexdigest()


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": json.dumps(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = json.loads(state["python"])
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


class Checkpointer:
    def __init__(self, name: str, every: int | None, identity: dict, files: list):
        self.folder, self.every = CHECKPOINTS / name, every
        self.fingerprint = fingerprint(identity, files) if every else None

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0

    def save(self, step: int, model, optimizer, scheduler, progress: dict) -> None:
        """Every process calls this: each keeps its own random state, rank 0 the rest; the
        folder is replaced only once all of it is written."""
        scratch = self.folder.with_name(f".{self.folder.name}.partial")
        if is_main():
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir(parents=True)
        barrier()
        torch.save(rng_state(), scratch / f"rng_{rank()}.pt")
        if is_main():
            weights = {k: v.detach().cpu().clone().contiguous()
                       for k, v in model.state_dict().items()}
            save_file(weights, scratch / MODEL)
            torch.save({"fingerprint": self.fingerprint, "step": step,
                        "world_size": world_size(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "progress": json.dumps(progress)}, scratch / TRAINER)
        barrier()
        if is_main():
            shutil.rmtree(self.folder, ignore_errors=True)
            scratch.rename(self.folder)
        barrier()

    def load(self) -> dict | None:
        """The last checkpoint of this very run, or None (no checkpoint, or another run's)."""
        if not self.every or not (self.folder / TRAINER).is_file():
            return None
        state = torch.load(self.folder / TRAINER, weights_only=True, map_location="cpu")
        rng_file = self.folder / f"rng_{rank()}.pt"
        if (state["fingerprint"] != self.fingerprint
                or state["world_size"] != world_size() or not rng_file.is_file()):
            print(f"ignoring {self.folder}: it belongs to a run with other params, data or "
                  "process count", flush=True)
            return None
        state["model"] = load_file(self.folder / MODEL)
        state["rng"] = torch.load(rng_file, weights_only=True)
        state["progress"] = json.loads(state["progress"])
        print(f"resuming from {self.folder} at step {state['step']}", flush=True)
        return state

    def clear(self) -> None:
        if is_main():
            shutil.rmtree(self.folder, ignore_errors=True)
            shutil.rmtree(self.folder.with_name(f".{self.folder.name}.partial"),
                          ignore_errors=True)
