"""Predictions from an export folder (models/export/<model>): ONNX Runtime plus the tokenizer,
nothing from the training code but the task registry and the same input/answer logic.

Inputs are lists of texts, one per text field of the task (a sentence; a sentence pair; a
question and its context). They are checked before any work: an empty text, a wrong number
of fields, or an input longer than the model was trained on is refused, not cut silently.
"""
from pathlib import Path

import pandas as pd
from transformers import AutoTokenizer

from ..core.errors import PipelineError
from ..core.files import read_json
from ..inference.engines import onnxruntime_engine
from ..inference.timing import thread_count
from ..modeling.features import eval_split
from ..tasks.own import OWN, from_definition
from ..tasks.registry import get_task

INFO_FILE, MODEL_FILE = "model_info.json", "model.onnx"


class ExportedModel:
    def __init__(self, folder, threads: int | None = None):
        folder = Path(folder)
        if not (folder / INFO_FILE).is_file() or not (folder / MODEL_FILE).is_file():
            raise PipelineError(f"{folder} is not an export folder (no {INFO_FILE} / "
                                f"{MODEL_FILE}); `dvc repro` writes them to models/export/")
        self.info = read_json(folder / INFO_FILE)
        self.task = (from_definition(self.info["own"]) if self.info["task"] == OWN
                     else get_task(self.info["task"]))
        self.settings = self.task.kind.settings_from_info(self.info)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.engine = onnxruntime_engine(self.info["model"],
                                         folder / MODEL_FILE, thread_count(threads))

    @property
    def fields(self) -> tuple:
        return tuple(self.task.text_fields)

    def check(self, examples: list) -> None:
        if not examples:
            raise PipelineError("no input: give the text on the command line or --file FILE")
        for number, texts in enumerate(examples, 1):
            if len(texts) != len(self.fields):
                raise PipelineError(
                    f"input {number} has {len(texts)} text(s); {self.task.name} takes "
                    f"{len(self.fields)}: {', '.join(self.fields)} (tab-separated in a file)")
            for field, text in zip(self.fields, texts):
                if not text.strip():
                    raise PipelineError(f"input {number}: {field} is empty")
            self._check_length(number, texts)

    def _check_length(self, number: int, texts: list) -> None:
        field, length, limit = self.task.kind.bounded_text(self.tokenizer, texts, self.fields,
                                                           self.settings)
        if length > limit:
            raise PipelineError(f"input {number}: {field} is {length} tokens; this model takes "
                                f"at most {limit}. Shorten it (or retrain with a longer "
                                "data.max_seq_length / qa.max_question_length)")

    def predict(self, examples: list) -> list:
        self.check(examples)
        columns = [list(texts) + [None] * (2 - len(texts)) for texts in examples]
        frame = pd.DataFrame(columns, columns=["text_a", "text_b"])
        frame["id"] = [str(i) for i in range(len(frame))]
        split = eval_split(self.tokenizer, frame, self.task, self.settings, batch_size=16)
        outputs = self.engine.predict(split.loader, desc="predict")
        return self.task.kind.answers(outputs, split, self.task, self.settings)

def read_examples(path) -> list:
    """One example per line, its texts tab-separated; blank lines are refused, not skipped."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"input file {path} not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})")
    return [line.split("\t") for line in lines]
