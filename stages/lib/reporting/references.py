"""Published FP32 vs INT8 figures (data/references.csv) set beside ours.

Drops (`tasks.metrics.drop`, `relative_drop`) follow one convention for our rows and for
every reference.
"""
from pathlib import Path

import pandas as pd

from ..core.errors import PipelineError
from ..core.paths import REFERENCES_FILE
from ..quantization.methods import DEFAULT, FP32, is_onnx, model_of, onnx_row, published_method
from ..tasks.metrics import drop, relative_drop

COLUMNS = ["source", "url", "model", "task", "metric", "fp32", "int8", "method", "notes"]


def load_references(path=REFERENCES_FILE) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} not found; it ships with the repository (git checkout it)")
    table = pd.read_csv(path, dtype={"fp32": float, "int8": float}, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise PipelineError(f"{path} lacks the column(s) {', '.join(missing)}; "
                            f"its header must be {','.join(COLUMNS)}")
    return table[COLUMNS]


def same_model(ours: str, theirs: str) -> bool:
    """Hub ids match with or without their organisation (google-bert/bert-base-uncased)."""
    def bare(name):
        return name.strip().lower().rstrip("/").split("/")[-1]
    return bare(ours) == bare(theirs)


def matching_method(reference_method: str, ours: dict) -> str:
    """Our ONNX INT8 row made the way the reference was (dynamic or static PTQ, else QAT), or
    the closest one this run has."""
    available = [row for row in ours if is_onnx(row) and model_of(row) != FP32]
    for row in (onnx_row(published_method(reference_method)), onnx_row(DEFAULT), *available):
        if row in ours:
            return row
    raise KeyError("no ONNX INT8 model among our results")


def in_recipe(reference, recipe: dict | None) -> bool:
    """Whether a references.csv row is one that `recipe` reproduces (names compared without
    case)."""
    return recipe is not None and all(
        str(getattr(reference, key)).strip().lower() == str(value).strip().lower()
        for key, value in recipe["reproduces"].items())


def recipe_rows(references: pd.DataFrame, recipe: dict) -> pd.DataFrame:
    rows = references[[in_recipe(ref, recipe) for ref in references.itertuples()]]
    if rows.empty:
        raise PipelineError(f"recipe {recipe['name']}: no row of {REFERENCES_FILE} has "
                            f"{recipe['reproduces']}; correct its `reproduces`")
    return rows


def compare(references: pd.DataFrame, task: str, our_model: str, ours: dict,
            recipe: dict | None = None) -> pd.DataFrame:
    """Each reference for `task` beside our FP32 and the INT8 made the same way (see
    matching_method), on the same metric; the rows `recipe` reproduces first, marked.

    `ours` maps model name -> metrics ({"fp32": {...}, "onnx_qat": {...}, ...}); references on
    a metric we do not compute are left out."""
    rows = []
    for ref in sorted(references[references["task"] == task].itertuples(),
                      key=lambda ref: not in_recipe(ref, recipe)):
        if ref.metric not in ours["fp32"]:
            continue
        our_row = matching_method(ref.method, ours)
        our_fp32, our_int8 = ours["fp32"][ref.metric], ours[our_row][ref.metric]
        rows.append({
            "source": ref.source, "method": ref.method, "our_model": our_row,
            "their_model": ref.model,
            "metric": ref.metric,
            "their_fp32": ref.fp32, "their_int8": ref.int8,
            "their_drop": round(drop(ref.fp32, ref.int8), 2),
            "their_drop_rel_pct": round(relative_drop(ref.fp32, ref.int8), 2),
            "our_fp32": our_fp32, "our_int8": our_int8,
            "our_drop": round(drop(our_fp32, our_int8), 2),
            "our_drop_rel_pct": round(relative_drop(our_fp32, our_int8), 2),
            "same_model": "yes" if same_model(our_model, ref.model) else "no",
            **({"recipe": "yes" if in_recipe(ref, recipe) else ""} if recipe else {}),
        })
    return pd.DataFrame(rows)


def model_notes(comparison: pd.DataFrame, our_model: str) -> list:
    """Plain words for every reference whose model is not ours."""
    others = sorted(set(comparison.loc[comparison["same_model"] == "no", "their_model"]))
    if not others:
        return []
    return [f"the model differs: ours is `{our_model}`, the reference used "
            f"{', '.join(f'`{m}`' for m in others)}; compare drops, not absolute scores"]
