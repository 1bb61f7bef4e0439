"""The classic local layouts a task's files come in, and how to point the pipeline at them."""


from ..tasks.registry import Task


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
