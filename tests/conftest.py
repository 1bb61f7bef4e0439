import os
import shutil
import subprocess
import sys
from pathlib import Path


def pin_this_worker_to_its_share_of_cpus() -> None:
    """Under pytest-xdist, worker i of n keeps CPUs i, i+n, ...: torch's OpenMP pool and the
    stages' thread counts (`threads: null` is the affinity's size) then fit the worker's share,
    and workers do not spin on each other's cores. Before torch is imported: OpenMP reads it
    once."""
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(
        "PYTEST_XDIST_WORKER_COUNT")
    if worker and count and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))  # more workers than CPUs (-n 8): they share
        os.sched_setaffinity(0, cpus[int(worker.removeprefix("gw")) % len(cpus)::int(count)])


pin_this_worker_to_its_share_of_cpus()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from tiny_model import build_tiny_bert  # noqa: E402

from stages.lib.inference.engines import onnxruntime_engine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
GLUE_DIR = SHARED_DATA / "glue"

# The hub is never reachable in tests: fail fast instead of retrying for ~20 s.
os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", DVC_NO_ANALYTICS="1")

needs_glue = pytest.mark.skipif(not GLUE_DIR.is_dir(), reason=f"no GLUE data at {GLUE_DIR}")


def pytest_collection_modifyitems(items):
    """Tests marked start_first go to the front: under xdist's worksteal the worker that starts
    the longest test keeps it, and the other workers take the rest from its queue."""
    items.sort(key=lambda item: item.get_closest_marker("start_first") is None)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert")


def small_params(tiny_model: Path, **overrides) -> dict:
    """params.yaml with a tiny model, a small MRPC slice and one short epoch per stage."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(task="mrpc")
    params["model"]["name"] = str(tiny_model)
    params["data"].update(source="local", dir=str(GLUE_DIR), max_train_samples=128,
                          max_eval_samples=64, max_seq_length=32)
    params["finetune"].update(epochs=1, batch_size=16, log_every=2)
    params["qat"].update(epochs=1, batch_size=16, log_every=2)
    params["quantization"]["subset_size"] = 16
    params["latency"].update(repeats=3, warmup=1)
    params["benchmark"].update(batch_sizes=[1, 4], seq_lengths=[None], threads=[None], warmup=1,
                               repeats=2, min_seconds=None)
    params["export"]["parity_tolerance"] = 5.0  # 64 examples: one flipped prediction is 1.6 points
    return set_dotted(params, overrides)


def set_dotted(tree: dict, values: dict) -> dict:
    """Set {"qat.lr": 1e-5, ...} inside a nested params dict, as `dvc exp run -S` does."""
    for dotted, value in values.items():
        *parents, leaf = dotted.split(".")
        node = tree
        for key in parents:
            node = node[key]
        node[leaf] = value
    return tree


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh git + DVC copy of the pipeline; tests write their own params.yaml into it."""
    for name in ("stages", "dvc.yaml", "params.yaml", ".dvcignore", "data/references.csv",
                 "data/recipes", "models/local"):
        src = REPO / name
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    for cache in tmp_path.rglob("__pycache__"):
        shutil.rmtree(cache)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_params(folder: Path, params: dict) -> None:
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_stage(folder: Path, stage: str) -> subprocess.CompletedProcess:
    """Run one stage script the way dvc.yaml does; returns the finished process."""
    return subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=folder,
                          capture_output=True, text=True, env=stage_env())


def stage_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = ""
    for role in ("AUTHOR", "COMMITTER"):  # `dvc exp run` commits; CI may have no git identity
        env.setdefault(f"GIT_{role}_NAME", "pipeline tests")
        env.setdefault(f"GIT_{role}_EMAIL", "tests@localhost")
    return env


def ort_logits(path, loader, **options):
    """Logits of an ONNX file through the engine the pipeline scores ONNX models with."""
    engine = onnxruntime_engine("test", path, threads=1, **options)
    return np.stack(engine.predict(loader)["logits"])
