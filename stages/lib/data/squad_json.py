"""The SQuAD JSON file format (v1.1 and v2.0) read into prepared rows."""
import json
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError

QA_COLUMNS = ["id", "title", "text_a", "text_b", "label"]  # text_a question, text_b context


def read_squad_json(path: Path) -> pd.DataFrame:
    """One row per question: id, article title, question, context, answers."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} not found: point data.train_file / data.validation_file "
                            "(or data.dir) at SQuAD JSON files")
    try:
        articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    except UnicodeDecodeError as err:
        raise PipelineError(f"{path} is not UTF-8 text ({err})") from err
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise PipelineError(f"{path} is not a SQuAD file: expected JSON with a top-level "
                            f"`data` list of articles ({type(err).__name__}: {err})") from err
    rows = []
    try:
        for article in articles:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    answers = qa.get("answers", [])
                    rows.append({"id": str(qa["id"]), "title": article.get("title", ""),
                                 "text_a": qa["question"], "text_b": paragraph["context"],
                                 "label": {"text": [a["text"] for a in answers],
                                           "answer_start": [int(a["answer_start"])
                                                            for a in answers]}})
    except (KeyError, TypeError, ValueError) as err:
        raise PipelineError(f"{path}: malformed SQuAD entry ({type(err).__name__}: {err}); each "
                            "article needs paragraphs -> context + qas -> id, question, "
                            "answers[text, answer_start]") from err
    return pd.DataFrame(rows, columns=QA_COLUMNS)


def check_answers(frame: pd.DataFrame, where: str) -> None:
    """Every answer must be the context text at its offset; training relies on it."""
    for row in frame.itertuples():
        for text, start in zip(row.label["text"], row.label["answer_start"]):
            if row.text_b[start:start + len(text)] != text:
                raise PipelineError(f"{where}: question {row.id}: answer {text!r} is not at "
                                    f"character {start} of its context; fix answer_start")
    duplicated = frame["id"][frame["id"].duplicated()]
    if len(duplicated):
        raise PipelineError(f"{where}: question id {duplicated.iloc[0]!r} appears twice")


def answerable_only(frame: pd.DataFrame) -> pd.DataFrame:
    """SQuAD v1.1 has no unanswerable questions; v2.0 data keeps only its answerable ones."""
    return frame[frame["label"].map(lambda answers: len(answers["text"]) > 0)]
