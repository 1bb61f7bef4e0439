"""The SQuAD JSON file format (v1.1 and v2.0) read into prepared rows."""
import json
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError
from ..tasks.qa import QA_COLUMNS


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

