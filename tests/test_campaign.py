"""The multi-task campaign: its file, the runs it queues and which finished runs it counts."""
import copy
import json
import shlex

import pytest
import yaml
from conftest import GLUE_DIR, REPO, needs_glue, set_dotted

from stages.lib.config.params import validate
from stages.lib.core.errors import PipelineError
from stages.lib.reporting.experiment_runs import Run, flatten
from stages.tools import campaign as tool

DEFAULTS = yaml.safe_load((REPO / "params.yaml").read_text())
CAMPAIGN = tool.load_campaign(REPO / "data" / "campaign.yaml")


def run_of(task, seed, data_root, **changes):
    params = set_dotted(copy.deepcopy(DEFAULTS),
                        {**tool.run_params(CAMPAIGN, task, seed, data_root), **changes})
    return Run(f"{task}-s{seed}", flatten(params), {})


@needs_glue
@pytest.mark.parametrize("task", sorted(CAMPAIGN["tasks"]))
def test_every_campaign_run_is_a_valid_params_file_on_the_shared_data(task):
    for seed in CAMPAIGN["seeds"]:
        validate(set_dotted(copy.deepcopy(DEFAULTS),
                            tool.run_params(CAMPAIGN, task, seed, GLUE_DIR.parent)))


def test_show_prints_one_named_run_per_task_and_seed_with_the_data_under_the_root(
        tmp_path, capsys):
    tool.main(["show", "--data", str(tmp_path), "--task", "cola", "--task", "stsb",
               "--seed", "43"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    words = shlex.split(lines[1])
    assert words[:6] == ["dvc", "exp", "run", "--queue", "-n", "stsb-s43"]
    settings = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "-S")
    assert settings["task"] == "stsb" and settings["seed"] == "43"
    assert settings["data.dir"] == str(tmp_path.resolve() / "glue")
    assert settings["methods"] == "[qat, ptq_static, ptq_dynamic, ptq_accuracy]"
    assert settings["finetune.epochs"] == "5"
    with pytest.raises(PipelineError, match="not in .*campaign.yaml: mnli"):
        tool.main(["show", "--data", str(tmp_path), "--task", "mnli"])


def test_a_run_counts_by_its_settings_not_its_name_nor_its_data_folder(tmp_path):
    assert tool.belongs(run_of("rte", 42, tmp_path), CAMPAIGN)
    assert tool.belongs(run_of("rte", 43, tmp_path / "elsewhere"), CAMPAIGN)
    assert not tool.belongs(run_of("rte", 42, tmp_path, **{"finetune.epochs": 2}), CAMPAIGN)
    assert not tool.belongs(run_of("rte", 45, tmp_path), CAMPAIGN)
    assert not tool.belongs(run_of("rte", 42, tmp_path, **{"methods": ["qat"]}), CAMPAIGN)
    assert tool.belongs(run_of("squad", 44, tmp_path), CAMPAIGN)


def test_summarize_counts_the_runs_kept_beside_the_last_table(tmp_path, monkeypatch):
    def finished(task, seed, fp32, int8):
        run = run_of(task, seed, tmp_path)
        run.metrics = {"fp32": {"main": fp32}, "onnx_fp32": {"main": fp32},
                       "onnx_ptq_static": {"main": int8}}
        return run
    out = tmp_path / "campaign"
    out.mkdir()
    kept = [finished("rte", 42, 60.0, 59.0), finished("cola", 42, 30.0, 29.0)]
    for key in ("ptq_accuracy.select_on", "ptq_accuracy.select_rows"):
        del kept[0].params[key]  # made before the setting: it counts as made with its default
    (out / "exp_show.json").write_text(json.dumps(tool.summarize.as_exp_show(kept)))
    other = finished("rte", 43, 62.0, 61.0)
    other.params["finetune.epochs"] = 2  # not the campaign's schedule: left out
    live = tool.summarize.as_exp_show([finished("rte", 43, 64.0, 62.0), other])
    monkeypatch.setattr(tool.summarize, "exp_show", lambda all_commits, revs: live)
    tool.main(["summarize", "--out", str(out)])
    table = (out / "summary.md").read_text()
    assert "62.00 ± 2.83" in table  # rte FP32 over seeds 42 (kept) and 43 (new)
    assert "| cola (mcc)" in table and "2 (seed 42, 43)" in table
    kept = json.loads((out / "exp_show.json").read_text())
    assert len(kept) == 3
    # kept with the data folder as the campaign names it: another machine's runs join them
    assert {e["data"]["params"]["params.yaml"]["data"]["data"]["dir"] for e in kept} == {"glue"}


def test_queue_leaves_out_the_runs_that_finished_already(tmp_path, monkeypatch, capsys):
    finished = run_of("rte", 42, tmp_path)
    finished.metrics = {"fp32": {"main": 60.0}, "onnx_fp32": {"main": 60.0},
                        "onnx_qat": {"main": 59.0}}
    monkeypatch.setattr(tool.summarize, "exp_show",
                        lambda all_commits, revs: tool.summarize.as_exp_show([finished]))
    queued = []
    monkeypatch.setattr(tool.subprocess, "run", lambda command, check: queued.append(command))
    tool.main(["queue", "--data", str(tmp_path), "--task", "rte", "--out", str(tmp_path)])
    assert [command[7] for command in queued] == ["rte-s43", "rte-s44"]
    assert "finished already: rte-s42" in capsys.readouterr().out


def test_a_held_back_task_is_left_out_unless_named(tmp_path, capsys):
    campaign = {**CAMPAIGN, "tasks": {
        "rte": {**CAMPAIGN["tasks"]["rte"], "held_back": "FP32 at chance"},
        "cola": CAMPAIGN["tasks"]["cola"]}}
    (tmp_path / "campaign.yaml").write_text(yaml.safe_dump(campaign))
    tool.main(["show", "--data", str(tmp_path), "--campaign", str(tmp_path / "campaign.yaml")])
    out = capsys.readouterr().out
    assert "held back: rte (FP32 at chance)" in out and " rte-s" not in out
    assert out.count(" cola-s") == len(CAMPAIGN["seeds"])
    tool.main(["show", "--data", str(tmp_path), "--campaign", str(tmp_path / "campaign.yaml"),
               "--task", "rte"])
    assert capsys.readouterr().out.count(" rte-s") == len(CAMPAIGN["seeds"])
