"""Where a task's data comes from: which source `data.source: auto` picks, and the classic
local layouts a task's files come in (how to point the pipeline at them)."""

from ..tasks.registry import Task

PACKAGED_TASKS = ("rotten_tomatoes",)  # tasks whose data a Python package serves (offline)


def resolve_source(data: dict, task_name: str) -> str:
    """`data.source: auto`: packaged where the task has packaged data, local when a folder or
    a file is given, else the hub."""
    if data["source"] != "auto":
        return data["source"]
    if task_name in PACKAGED_TASKS:
        return "packaged"
    return "local" if data.get("dir") or data.get("train_file") else "hub"


def local_hint(task: Task) -> str:
    """How to point the pipeline at local files of `task`'s layout."""
    if task.layout == "squad":
        version = task.squad_release
        return (f"-S data.dir=/folder/with/train-v{version}.json+dev-v{version}.json (or "
                "data.train_file / data.validation_file / data.validation_articles)")
    if task.layout == "xnli":
        return "-S data.dir=/folder/with/XNLI-1.0+XNLI-MT-1.0"
    return "-S data.dir=/path/to/glue_data"


XNLI_TRAIN = "XNLI-MT-1.0/multinli/multinli.train.{}.tsv"


XNLI_EVAL = {"validation": "XNLI-1.0/xnli.dev.tsv", "test": "XNLI-1.0/xnli.test.tsv"}
