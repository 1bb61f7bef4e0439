"""The task registry: everything the pipeline needs to know about a benchmark task."""
from dataclasses import dataclass, field

from ..core.errors import PipelineError
from .kinds import CLASSIFICATION, EXTRACTIVE_QA, REGRESSION, Classification


@dataclass(frozen=True)
class Task:
    name: str
    text_fields: tuple            # hub column names, in model input order
    label_names: tuple | None     # None for regression and question answering
    metrics: tuple                # first one is the headline (`main`)
    eval_splits: tuple = ("validation",)  # the first is the one `main` is read from
    hub: tuple | None = None      # (path, config) for datasets.load_dataset
    kind: Classification = CLASSIFICATION  # or REGRESSION, EXTRACTIVE_QA (see kinds.py)
    layout: str = "glue"          # local files: glue | squad | xnli (see data.load_local)
    label_aliases: dict = field(default_factory=dict)  # other names of labels, in data
                                  # files and fine-tuned checkpoints' heads
    squad_version: int | None = None  # 2: questions may have no answer
    glue_dir: str | None = None   # folder inside a classic glue_data/ root
    glue_files: dict = field(default_factory=dict)  # split -> TSV file name
    glue_columns: tuple = ()      # TSV header names of the text fields, same order
    glue_label: str = "label"     # TSV header name of the label
    glue_headerless: dict | None = None  # column index map for the original headerless layout

    @property
    def num_labels(self) -> int:
        return self.kind.num_labels(self)

    @property
    def output_names(self) -> tuple:
        """What the model (and its ONNX file) returns."""
        return self.kind.output_names

    @property
    def has_null_answers(self) -> bool:
        """SQuAD 2.0: a question may have no answer in its context."""
        return self.squad_version == 2

    @property
    def squad_release(self) -> str | None:
        """The SQuAD release a QA task follows, as its files and papers name it."""
        return {1: "1.1", 2: "2.0"}.get(self.squad_version)

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    @property
    def splits(self) -> tuple:
        return ("train",) + self.eval_splits


def _glue(name, config, folder, fields, columns, labels, metrics, label="label", **extra):
    files = extra.pop("glue_files", {"train": "train.tsv", "validation": "dev.tsv"})
    return Task(name=name, text_fields=fields, label_names=labels, metrics=metrics,
                hub=("nyu-mll/glue", config), glue_dir=folder, glue_files=files,
                glue_columns=columns, glue_label=label, **extra)


BINARY = ("0", "1")

TASKS = {t.name: t for t in [
    Task("rotten_tomatoes", ("text",), ("rotten", "fresh"), ("accuracy",),
         eval_splits=("validation", "test"),
         hub=("cornell-movie-review-data/rotten_tomatoes", None),
         label_aliases={"negative": "rotten", "positive": "fresh"}),
    _glue("cola", "cola", "CoLA", ("sentence",), ("sentence",), BINARY, ("mcc", "accuracy"),
          # The original GLUE CoLA files have no header: source, label, original label, sentence.
          glue_headerless={"sentence": 3, "label": 1},
          label_aliases={"unacceptable": "0", "acceptable": "1"}),
    _glue("sst2", "sst2", "SST-2", ("sentence",), ("sentence",), BINARY, ("accuracy",),
          label_aliases={"negative": "0", "positive": "1"}),
    _glue("mrpc", "mrpc", "MRPC", ("sentence1", "sentence2"), ("#1 String", "#2 String"),
          BINARY, ("f1", "accuracy"), label="Quality",
          label_aliases={"not_equivalent": "0", "equivalent": "1"}),
    _glue("qqp", "qqp", "QQP", ("question1", "question2"), ("question1", "question2"),
          BINARY, ("f1", "accuracy"), label="is_duplicate",
          label_aliases={"not_duplicate": "0", "duplicate": "1"}),
    _glue("stsb", "stsb", "STS-B", ("sentence1", "sentence2"), ("sentence1", "sentence2"),
          None, ("pearson", "spearman"), label="score", kind=REGRESSION),
    _glue("mnli", "mnli", "MNLI", ("premise", "hypothesis"), ("sentence1", "sentence2"),
          ("entailment", "neutral", "contradiction"), ("accuracy",), label="gold_label",
          eval_splits=("validation_matched", "validation_mismatched"),
          glue_files={"train": "train.tsv", "validation_matched": "dev_matched.tsv",
                      "validation_mismatched": "dev_mismatched.tsv"}),
    _glue("qnli", "qnli", "QNLI", ("question", "sentence"), ("question", "sentence"),
          ("entailment", "not_entailment"), ("accuracy",)),
    _glue("rte", "rte", "RTE", ("sentence1", "sentence2"), ("sentence1", "sentence2"),
          ("entailment", "not_entailment"), ("accuracy",)),
    _glue("wnli", "wnli", "WNLI", ("sentence1", "sentence2"), ("sentence1", "sentence2"),
          ("not_entailment", "entailment"), ("accuracy",)),
    # XNLI: train on the MultiNLI translation, evaluate on the human-translated dev and test.
    # `xnli.language` / `xnli.train_language` pick the languages (the hub config).
    Task("xnli", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
         ("accuracy",), eval_splits=("validation", "test"), hub=("facebook/xnli", None),
         layout="xnli", label_aliases={"contradictory": "contradiction"}),
    # SQuAD: question first, context second; `label` holds the answers.
    Task("squad", ("question", "context"), None, ("f1", "exact"), hub=("rajpurkar/squad", None),
         kind=EXTRACTIVE_QA, layout="squad", squad_version=1),
    Task("squad_v2", ("question", "context"), None,
         ("f1", "exact", "HasAns_f1", "HasAns_exact", "NoAns_f1", "NoAns_exact", "best_f1",
          "best_exact"), hub=("rajpurkar/squad_v2", None), kind=EXTRACTIVE_QA, layout="squad",
         squad_version=2),
]}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise PipelineError(f"unknown task {name!r}; set `task` to one of: {', '.join(TASKS)}")
    return TASKS[name]
