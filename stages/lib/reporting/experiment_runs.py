"""Runs read from `dvc exp show --json`, and grouped into configurations: the committed
baselines and the finished experiments, each with its flattened params and its metrics; runs
that differ only in `seed` (or in settings that cannot change a metric) form one group.
"""
import json
from dataclasses import dataclass, field

from ..quantization.methods import FP32, METHODS, onnx_row

METRICS_FILE, PARAMS_FILE = "reports/metrics.json", "params.yaml"
LATENCY_FILE = "reports/latency.json"
# Params that cannot change a metric, so runs differing only in them are repeats.
NOT_CONFIG = ("seed", "latency.", "report.", "device", "benchmark.")
INT8_ONNX_ROWS = [onnx_row(m) for m in METHODS]
# Runs made before PTQ methods existed named QAT's rows int8 / onnx_int8.
LEGACY_NAMES = {"int8": "qat", "onnx_int8": "onnx_qat"}
MAX_LABEL_PARAMS = 2  # params named in a column label; runs.csv has them all
LABEL_PRIORITY = ("model.", "data.", "methods", "quantization.", "finetune.", "qat.")


@dataclass
class Run:
    name: str
    params: dict   # flattened: {"qat.lr": 1e-05, ...}
    metrics: dict  # reports/metrics.json
    timings: dict = field(default_factory=dict)  # reports/latency.json

    @property
    def task(self) -> str:
        return self.params["task"]

    @property
    def seed(self):
        return self.params.get("seed")


def flatten(tree: dict, prefix="") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _run(entry: dict, name: str) -> Run | None:
    data = entry.get("data") or {}
    metrics = ((data.get("metrics") or {}).get(METRICS_FILE) or {}).get("data")
    params = ((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data")
    if metrics:
        metrics = {LEGACY_NAMES.get(name, name): values for name, values in metrics.items()}
    if (not metrics or not params or FP32 not in metrics
            or not any(row in metrics for row in INT8_ONNX_ROWS)):
        return None
    timings = ((data.get("metrics") or {}).get(LATENCY_FILE) or {}).get("data") or {}
    return Run(name, flatten(params), metrics, timings)


def runs_from_exp_show(entries: list) -> list:
    """Finished runs, newest first; the workspace and unfinished experiments are left out
    (a running or queued experiment shows its baseline's metrics), and a run with the same
    configuration and seed as an earlier one is that run met again (on another commit)."""
    runs, seen = [], set()

    def keep(run):
        key = (config_key(run), run.seed) if run else None
        if run and key not in seen:
            seen.add(key)
            runs.append(run)

    for baseline in entries:
        if baseline.get("rev") == "workspace":
            continue
        for experiment in baseline.get("experiments") or []:
            executor = experiment.get("executor") or {}
            if executor.get("state") not in (None, "success"):
                continue
            for rev in experiment.get("revs") or []:
                keep(_run(rev, rev.get("name") or rev["rev"][:7]))
        keep(_run(baseline, baseline.get("name") or baseline["rev"][:7]))
    return runs


def config_key(run: Run) -> tuple:
    return tuple(sorted((k, json.dumps(v, default=str)) for k, v in run.params.items()
                        if not k.startswith(NOT_CONFIG)))


def group_runs(runs: list) -> dict:
    """column label -> runs of one configuration. The label is the task, plus the params that
    tell its configurations apart when a task was run in several."""
    groups = {}
    for run in runs:
        groups.setdefault(config_key(run), []).append(run)
    by_task = {}
    for key, members in groups.items():
        by_task.setdefault(members[0].task, []).append((key, members))
    labelled = {}
    for task, configs in by_task.items():
        settings = [dict(key) for key, _ in configs]
        named = label_params(settings)
        shown = named[:MAX_LABEL_PARAMS]
        shown_values = {tuple(values.get(k) for k in shown) for values in settings}
        told_apart = len(shown_values) == len(settings)
        for number, (values, (_, members)) in enumerate(zip(settings, configs), 1):
            parts = [f"{k}={json.loads(values[k]) if k in values else None}" for k in shown]
            if len(named) > len(shown):
                parts.append(f"+{len(named) - len(shown)} more")
            if not told_apart:
                parts.append(f"config {number}")
            labelled[f"{task} ({', '.join(parts)})" if parts else task] = sorted(
                members, key=lambda run: (str(type(run.seed)), run.seed))
    return dict(sorted(labelled.items()))


def weight(key: str) -> int:
    """How much a param says about a run, for labels: the model before the data, the scheme
    and then the schedules."""
    ranked = [i for i, prefix in enumerate(LABEL_PRIORITY) if key.startswith(prefix)]
    return ranked[0] if ranked else len(LABEL_PRIORITY)


def label_params(settings: list) -> list:
    """The params that differ between a task's configurations, those that tell them apart
    first (each the one that separates most pairs still alike; on a tie, a param every run
    sets before one that older runs lack, then the weightier), then the rest."""
    differing = [k for k in sorted(set().union(*settings))
                 if len({values.get(k) for values in settings}) > 1]
    alike = {(i, j) for i in range(len(settings)) for j in range(i + 1, len(settings))}
    named = []
    while alike:
        def separates(k):
            return sum(settings[i].get(k) != settings[j].get(k) for i, j in alike)
        key = max((k for k in differing if k not in named),
                  key=lambda k: (separates(k), all(k in values for values in settings),
                                 -weight(k)))
        named.append(key)
        alike = {(i, j) for i, j in alike if settings[i].get(key) == settings[j].get(key)}
    return named + [k for k in differing if k not in named]
