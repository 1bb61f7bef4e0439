"""Task metrics from model outputs, in percent as papers print them."""
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

METRICS = {
    "accuracy": lambda y, p: accuracy_score(y, p),
    "f1": lambda y, p: f1_score(y, p),
    "macro_f1": lambda y, p: f1_score(y, p, average="macro"),
    "mcc": lambda y, p: matthews_corrcoef(y, p),
    "pearson": lambda y, p: pearsonr(y, p)[0],
    "spearman": lambda y, p: spearmanr(y, p)[0],
}



def drop(fp32: float, int8: float) -> float:
    """What INT8 lost, in metric points (positive = INT8 lost): the convention of every drop
    here, ours and the published ones."""
    return fp32 - int8


def relative_drop(fp32: float, int8: float) -> float:
    """The drop as a percentage of FP32 (Intel Neural Compressor's 1 % criterion)."""
    return 100.0 * (fp32 - int8) / fp32 if fp32 else float("nan")


def drop_of(kind: str, fp32: float, int8: float) -> float:
    """The drop that report.drop_kind (relative | absolute) measures."""
    return relative_drop(fp32, int8) if kind == "relative" else drop(fp32, int8)


# Short suffixes for the secondary evaluation splits (MNLI mismatched -> accuracy_mm)
SPLIT_SUFFIX = {"validation_mismatched": "mm", "test": "test"}


def flatten(per_split: dict, task) -> dict:
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


def headline_split(flat: dict, task) -> dict:
    """The first evaluation split's metrics and `main`, out of flatten()'s figures."""
    others = tuple(f"_{SPLIT_SUFFIX.get(split, split)}" for split in task.eval_splits[1:])
    kept = {name: value for name, value in flat.items()
            if name not in ("main", "size_mb") and not name.endswith(others)}
    return {**kept, "main": flat["main"]}


def score(outputs: dict, splits: dict, task, settings) -> dict:
    """`outputs` maps split -> model outputs, `splits` split -> features.EvalSplit."""
    return flatten({name: task.kind.score(outputs[name], splits[name], task, settings)
                    for name in task.eval_splits}, task)
