"""Task metrics from model outputs, in percent as papers print them."""
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from .qa import QASettings, postprocess
from .registry import Task
from .squad_metric import evaluate

METRICS = {
    "accuracy": lambda y, p: accuracy_score(y, p),
    "f1": lambda y, p: f1_score(y, p),
    "mcc": lambda y, p: matthews_corrcoef(y, p),
    "pearson": lambda y, p: pearsonr(y, p)[0],
    "spearman": lambda y, p: spearmanr(y, p)[0],
}

# Short suffixes for the secondary evaluation splits (MNLI mismatched -> accuracy_mm)
SPLIT_SUFFIX = {"validation_mismatched": "mm", "test": "test"}


def predictions(logits: np.ndarray, task: Task) -> np.ndarray:
    return logits[:, 0] if task.is_regression else logits.argmax(axis=-1)


def score_split(logits: np.ndarray, labels: np.ndarray, task: Task) -> dict:
    """Classification and regression metrics of one split."""
    preds = predictions(logits, task)
    return {name: round(100.0 * float(METRICS[name](labels, preds)), 4) for name in task.metrics}


def score_answers(outputs: dict, split, task: Task, settings: QASettings) -> dict:
    """The official SQuAD metrics of one split, after the n-best answer search."""
    with_null = task.has_null_answers
    answers, null_odds = postprocess(split.frame, split.windows, outputs["start_logits"],
                                        outputs["end_logits"], settings, with_null)
    result = evaluate(split.frame, answers, null_odds if with_null else None)
    return {name: round(value, 4) for name, value in result.items()}


def score_outputs(outputs: dict, split, task: Task, settings) -> dict:
    """Metrics of one split from the model outputs (`features.EvalSplit` holds the gold)."""
    if task.is_qa:
        return score_answers(outputs, split, task, settings.qa)
    return score_split(np.stack(outputs["logits"]), split.frame["label"].to_numpy(), task)


def flatten(per_split: dict, task: Task) -> dict:
    """Flat metrics over every evaluation split plus `main`, the headline figure.

    The first split's metrics keep their plain names; the others get a suffix (MNLI:
    accuracy and accuracy_mm).
    """
    flat = {}
    for i, split in enumerate(task.eval_splits):
        suffix = "" if i == 0 else f"_{SPLIT_SUFFIX.get(split, split)}"
        for name, value in per_split[split].items():
            flat[name + suffix] = value
    flat["main"] = flat[task.main_metric]
    return flat


def score(outputs: dict, splits: dict, task: Task, settings) -> dict:
    """`outputs` maps split -> model outputs, `splits` split -> features.EvalSplit."""
    return flatten({name: score_outputs(outputs[name], splits[name], task, settings)
                    for name in task.eval_splits}, task)
