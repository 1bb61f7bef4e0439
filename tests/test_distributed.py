"""Training on several processes (DDP over gloo, on CPU) and surviving a kill."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from conftest import needs_glue, run_stage, small_params, stage_env, write_params
from safetensors.torch import load_file
from tiny_model import build_tiny_bert

from stages.lib.modeling.distributed import share_of_batch


@pytest.mark.parametrize("size, count", [(32, 2), (5, 2), (7, 3), (1, 2)])
def test_shares_of_a_batch_average_to_its_mean_loss(size, count):
    batch = {"input_ids": torch.arange(size).unsqueeze(1), "labels": torch.arange(size) * 1.0}
    per_item = batch["labels"] ** 2
    shares = [share_of_batch(batch, index, count) for index in range(count)]
    covered = torch.cat([part["labels"] for part, weight in shares if weight > 0])
    assert covered.tolist() == batch["labels"].tolist()  # each item once, in order
    # DDP averages the processes' gradients: the weighted mean losses must average to the
    # global batch's mean loss.
    averaged = sum(weight * (part["labels"] ** 2).mean() for part, weight in shares) / count
    assert averaged.item() == pytest.approx(per_item.mean().item())


def trained(folder, stage):
    """The curves and weights a training stage left."""
    if stage == "finetune":
        curves = folder / "reports" / "curves" / "finetune_loss.csv"
        weights = folder / "models" / "fp32" / "model.safetensors"
        evals = folder / "reports" / "curves" / "finetune_eval.csv"
    else:
        curves = folder / "models" / "int8" / "qat" / "qat_loss.csv"
        weights = folder / "models" / "int8" / "qat" / "quantized.safetensors"
        evals = folder / "models" / "int8" / "qat" / "qat_eval.csv"
    return pd.read_csv(curves), pd.read_csv(evals), load_file(weights)


@needs_glue
def test_two_gloo_processes_match_one_process_with_the_same_global_batch(workspace, tmp_path):
    # Dropout off: each process draws its own dropout masks, which one process cannot copy.
    model = build_tiny_bert(tmp_path / "tiny-no-dropout", dropout=0.0)
    params = small_params(model, **{"data.max_train_samples": 120, "finetune.batch_size": 16})
    write_params(workspace, params)
    assert run_stage(workspace, "download").returncode == 0
    results = {}
    for processes in (1, 2):
        write_params(workspace, {**params, "train": {**params["train"],
                                                     "num_processes": processes}})
        for stage in ("finetune", "qat"):  # QAT from each count's own FP32 model
            finished = run_stage(workspace, stage)
            assert finished.returncode == 0, finished.stderr[-3000:]
            results[processes, stage] = trained(workspace, stage)
        timing = json.loads((workspace / "reports" / "timings" / "finetune.json").read_text())
        assert timing["training"]["steps"] == 8  # 120 items / global batch 16, either way
    assert "starting 2 training processes" in finished.stdout
    # Stated tolerance: the same curves and weights to 1e-4; what differs is only the
    # order of float additions (two half batches, then gloo's all-reduce).
    for stage in ("finetune", "qat"):
        (loss1, eval1, weights1), (loss2, eval2, weights2) = (results[1, stage],
                                                              results[2, stage])
        assert loss1["loss"].tolist() == pytest.approx(loss2["loss"].tolist(), abs=1e-4)
        assert eval1.columns.tolist() == eval2.columns.tolist()
        assert eval1.values.ravel().tolist() == pytest.approx(eval2.values.ravel().tolist(),
                                                              abs=1e-4)
        assert weights1.keys() == weights2.keys()
        assert max((weights1[k].float() - weights2[k].float()).abs().max().item()
                   for k in weights1) < 1e-4


def dvc(folder, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=folder, capture_output=True,
                          text=True, env=stage_env(), **kwargs)


@needs_glue
def test_a_killed_training_stage_resumes_to_the_same_result(workspace, tiny_model_dir):
    params = small_params(tiny_model_dir, **{
        "data.max_train_samples": 512, "finetune.batch_size": 4, "finetune.epochs": 2,
        "train.checkpoint_every": 16})  # 256 steps: time to kill it half way
    write_params(workspace, params)
    assert dvc(workspace, "repro", "finetune").returncode == 0
    uninterrupted = trained(workspace, "finetune")

    checkpoint = workspace / "models" / "checkpoints" / "finetune" / "trainer.pt"
    assert not checkpoint.parent.exists()  # gone once the outputs were written
    run = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--force", "finetune"],
                           cwd=workspace, env=stage_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not checkpoint.is_file() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # dvc and the stage it runs, mid-training
    run.wait()
    assert run.returncode == -signal.SIGKILL
    assert not (workspace / "models" / "fp32").exists()  # DVC cleared it; nothing half-written

    # The killed command again (a plain repro would check out the first run's model: its
    # params are unchanged and DVC's cache holds it)
    rerun = dvc(workspace, "repro", "--force", "finetune")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from models/checkpoints/finetune at step" in rerun.stdout + rerun.stderr
    loss, evals, weights = trained(workspace, "finetune")
    assert loss.equals(uninterrupted[0]) and evals.equals(uninterrupted[1])
    assert all(torch.equal(weights[k], uninterrupted[2][k]) for k in weights)
