"""method.json: what an INT8 method made (its label and scheme), beside its model. What the
making took (wall time, training figures) is a timing, kept apart in reports/timings/<method>.json,
so a model folder's hash depends on its inputs only."""
import json
from pathlib import Path

from ..core.errors import PipelineError
from ..core.paths import method_dir
from ..core.runner import stage_facts
from .methods import get_method

RECORD = "method.json"


def write_record(folder: Path, method: str, scheme: str, params: dict, **details) -> None:
    """details: what the method decided (ptq_accuracy: the layers it kept in FP32)."""
    record = {"method": method, "label": get_method(method).label_for(params), "scheme": scheme,
              **details}
    (Path(folder) / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def read_record(folder: Path) -> dict:
    path = Path(folder) / RECORD
    if not path.is_file():
        raise PipelineError(f"{path} is missing; run `dvc repro` to make the INT8 models")
    return json.loads(path.read_text())


def how_it_was_made(method: str) -> dict:
    """The method's record with what its stage measured making it (quantize_s, training, ...)."""
    return {**read_record(method_dir(method)), **stage_facts(method)}
