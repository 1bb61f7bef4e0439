"""Task metrics from logits, in percent as papers print them."""
import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from .tasks import Task

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
    preds = predictions(logits, task)
    return {name: round(100.0 * float(METRICS[name](labels, preds)), 4) for name in task.metrics}


def score(results: dict, task: Task) -> dict:
    """Flat metrics over every evaluation split plus `main`, the headline figure.

    `results` maps split -> (logits, labels). The first split's metrics keep their plain
    names; the others get a suffix (MNLI: accuracy and accuracy_mm).
    """
    flat = {}
    for i, split in enumerate(task.eval_splits):
        suffix = "" if i == 0 else f"_{SPLIT_SUFFIX.get(split, split)}"
        for name, value in score_split(*results[split], task).items():
            flat[name + suffix] = value
    flat["main"] = flat[task.main_metric]
    return flat
