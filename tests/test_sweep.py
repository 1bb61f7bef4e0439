"""The campaign's FP32 schedule sweeps: the runs they make and the table of their curves."""
import copy
import shlex
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO, set_dotted

from stages.lib.core.errors import PipelineError
from stages.lib.reporting.experiment_runs import Run, flatten
from stages.tools import campaign as campaign_tool
from stages.tools import sweep as tool

DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())
CAMPAIGN = campaign_tool.load_campaign(REPO / "data" / "campaign.yaml")


def settings_of(line: str) -> dict:
    words = shlex.split(line)
    return dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "-S")


def test_show_sweeps_each_task_not_swept_yet_over_the_grid(tmp_path, capsys):
    campaign = copy.deepcopy(CAMPAIGN)
    campaign["tasks"]["mrpc"]["swept"] = campaign["tasks"]["squad"]["swept"] = False
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(campaign))
    tool.main(["show", "--data", str(tmp_path), "--campaign", str(tmp_path / "campaign.yaml")])
    lines = capsys.readouterr().out.splitlines()
    unswept = [t for t, e in campaign["tasks"].items()
               if not e.get("swept") and not e.get("held_back")]
    grids = [{**campaign["sweep"], **campaign["tasks"][t].get("sweep", {})} for t in unswept]
    assert len(lines) == sum(len(g["epochs"]) * len(g["lr"]) for g in grids)
    names = [shlex.split(line)[5] for line in lines]
    assert "sweep-mrpc-e5-lr5e-5" in names and "sweep-mrpc-e5-lr1e-4" in names
    assert {"sweep-squad-e10-lr1e-4", "sweep-squad-e5-lr1e-4"} <= set(names)  # squad's own
    assert not any(name.startswith(("sweep-cola", "sweep-stsb")) for name in names)
    mrpc = settings_of(lines[names.index("sweep-mrpc-e5-lr1e-4")])
    assert mrpc["finetune.lr"] == "0.0001" and mrpc["finetune.epochs"] == "5"
    assert mrpc["seed"] == str(CAMPAIGN["seeds"][0]) and mrpc["methods"] == "[ptq_dynamic]"


def test_a_sweep_run_trains_the_campaign_runs_fp32_model_but_never_counts_as_one(tmp_path):
    campaign = copy.deepcopy(CAMPAIGN)
    (name, sweep), _ = tool.sweep_settings(campaign, "mrpc", tmp_path)
    campaign["tasks"]["mrpc"]["params"].update(
        {"finetune.epochs": sweep["finetune.epochs"], "finetune.lr": sweep["finetune.lr"]})
    run = campaign_tool.run_params(campaign, "mrpc", campaign["seeds"][0], tmp_path)
    assert {k: v for k, v in sweep.items() if k != "methods"} == \
        {k: v for k, v in run.items() if k != "methods"}
    swept = Run(name, flatten(set_dotted(copy.deepcopy(DEFAULTS), sweep)), {})
    assert not campaign_tool.belongs(swept, campaign)


def test_a_bad_sweep_grid_is_refused_naming_its_shape(tmp_path):
    bad = copy.deepcopy(CAMPAIGN)
    bad["sweep"]["lr"] = 1e-4  # one rate, not a list of them
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(PipelineError, match="lr: a list of floats"):
        campaign_tool.load_campaign(tmp_path / "campaign.yaml")
    bad["sweep"]["lr"], bad["tasks"]["squad"]["sweep"] = [1e-4], {"epochs": 10}
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(PipelineError, match="epochs: a list of integers"):
        campaign_tool.load_campaign(tmp_path / "campaign.yaml")


def commit_experiment(repo, name, task, lr, scores):
    """A finished sweep run as DVC leaves it: a commit under refs/exps with its params and
    its validation curve."""
    # DVC writes `-S finetune.lr=5e-5` back as `5e-05`, which YAML 1.1 reads as a string
    (repo / "params.yaml").write_text(f"task: {task}\nseed: 42\nfinetune:\n"
                                      f"  epochs: {len(scores)}\n  lr: {lr}\n")
    curve = repo / tool.CURVE
    curve.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"step": range(1, len(scores) + 1), "epoch": [float(e) for e in
                  range(1, len(scores) + 1)], "main": scores}).to_csv(curve, index=False)
    for command in (["add", "-A"], ["commit", "-qm", name],
                    ["update-ref", f"refs/exps/ab/cdef/{name}", "HEAD"]):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *command],
                       cwd=repo, check=True)


def test_table_reads_each_runs_curve_and_keeps_the_runs_a_clone_lacks(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    commit_experiment(repo, "sweep-mrpc-e3-lr5e-5", "mrpc", 5e-5, [80.0, 84.0, 85.0])
    commit_experiment(repo, "sweep-mrpc-e3-lr1e-4", "mrpc", 1e-4, [82.0, 86.0, 84.5])
    commit_experiment(repo, "mrpc-s42", "mrpc", 5e-5, [1.0, 2.0, 3.0])  # not a sweep
    out = tmp_path / "sweep"
    table = tool.write_table(tool.finished_curves(repo), out)
    assert list(table["lr"]) == [5e-5, 1e-4]
    assert list(table["last"]) == [85.0, 84.5] and list(table["pick"]) == ["<-", ""]
    assert list(table["epoch 2"]) == [84.0, 86.0]
    # another clone, where only the lr 1e-4 run is a live experiment, and it was rerun
    live = tool.finished_curves(repo)
    live = live[live["lr"] == 1e-4].assign(main=[82.0, 86.0, 85.5])
    table = tool.epochs_table(tool.merged(live, out / "epochs.csv"))
    assert list(table["last"]) == [85.0, 85.5] and list(table["pick"]) == ["", "<-"]
    markdown = (out / "epochs.md").read_text()
    assert "| mrpc" in markdown and "5e-05" in markdown and "0.0001" in markdown


def test_a_shorter_runs_missing_epochs_are_blank_in_the_table(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    commit_experiment(repo, "sweep-squad-e3-lr1e-4", "squad", 1e-4, [20.0, 40.0, 41.0])
    commit_experiment(repo, "sweep-squad-e2-lr1e-4", "squad", 1e-4, [25.0, 30.0])
    table = tool.write_table(tool.finished_curves(repo), tmp_path / "sweep")
    assert list(table["epochs"]) == [2, 3] and list(table["pick"]) == ["", "<-"]
    lines = (tmp_path / "sweep" / "epochs.md").read_text().splitlines()
    cells = [dict(zip(row(lines[2]), row(line))) for line in lines[4:6]]
    assert [c["epoch 3"] for c in cells] == ["", "41.00"]  # not "nan"


def row(line: str) -> list:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]
