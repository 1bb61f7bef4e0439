"""Recipes (data/recipes/): one per published row the pipeline can redo, run as a DVC
experiment by `python -m stages.tools.recipe`."""
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import GLUE_DIR, REPO, needs_glue, small_params, stage_env, write_params
from test_finetuned_checkpoint import checkpoint
from test_pipeline import dvc, git

from stages.lib.config.params import validate
from stages.lib.config.recipes import load_recipe, overrides, recipe_names
from stages.lib.core.errors import PipelineError
from stages.lib.reporting.references import load_references, recipe_rows

PUBLISHED = {  # the rows the issue asked recipes for, at least
    "nncf_xnli_zh_bert_base_chinese", "nncf_squad_bert_large", "nncf_mnli_roberta_large",
    "inc_mrpc_bert_base_static", "inc_mrpc_bert_base_qat",
    *(f"q8bert_{t}_bert_base" for t in ("cola", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb")),
    *(f"aimet_{t}_distilbert" for t in ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli",
                                        "rte"))}


def applied(recipe: dict) -> dict:
    """params.yaml with the recipe's overrides set, as `dvc exp run -S` would."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in recipe["params"].items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node[key]
        assert leaf in node, f"{recipe['name']}: {dotted} is not a param"
        node[leaf] = value
    return {**params, "recipe": recipe["name"]}


@pytest.mark.parametrize("name", recipe_names(REPO / "data" / "recipes"))
def test_every_recipe_names_its_published_rows_and_valid_params(name, monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = load_recipe(name)
    rows = recipe_rows(load_references(), recipe)
    assert set(rows["task"]) == {recipe["params"]["task"]}
    validate(applied(recipe))


def test_the_published_rows_asked_for_have_recipes():
    assert PUBLISHED <= set(recipe_names(REPO / "data" / "recipes"))


def test_overrides_are_read_back_by_yaml_as_written(monkeypatch):
    monkeypatch.chdir(REPO)
    recipe = load_recipe("nncf_squad_bert_large")
    args = overrides(recipe, ("seed=43",))
    pairs = dict(arg.split("=", 1) for arg in args[1::2])
    assert pairs["recipe"] == "nncf_squad_bert_large" and pairs["seed"] == "43"
    for key, value in recipe["params"].items():
        assert yaml.safe_load(pairs[key]) == value


def test_a_recipe_param_for_another_task_is_refused(monkeypatch):
    monkeypatch.chdir(REPO)
    params = {**yaml.safe_load((REPO / "params.yaml").read_text()),
              "recipe": "nncf_squad_bert_large"}
    with pytest.raises(PipelineError, match="is for task squad.*stages.tools.recipe run"):
        validate(params)
    with pytest.raises(PipelineError, match="no recipe 'nope'.*nncf_squad_bert_large"):
        validate({**params, "recipe": "nope"})


@needs_glue
def test_a_recipe_runs_as_an_experiment_with_its_published_rows_first(workspace, tmp_path):
    """INC's MRPC static recipe, with a tiny fine-tuned checkpoint standing in for
    Intel/bert-base-uncased-mrpc and a small MRPC slice: the report names the changes."""
    stand_in = checkpoint(tmp_path / "tiny-mrpc", ["not_equivalent", "equivalent"])
    write_params(workspace, small_params(stand_in, **{"benchmark.runtimes": ["onnxruntime"]}))
    git(workspace, "add", "-A")
    git(workspace, "commit", "-qm", "baseline")
    ours = ["model.name=" + str(stand_in), "data.source=local", f"data.dir={GLUE_DIR}",
            "data.max_train_samples=128", "data.max_eval_samples=64", "data.max_seq_length=32"]
    result = subprocess.run(
        [sys.executable, "-m", "stages.tools.recipe", "run", "inc_mrpc_bert_base_static",
         *[item for change in ours for item in ("-S", change)]],
        cwd=workspace, capture_output=True, text=True, env=stage_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "dvc exp run -n inc-mrpc-bert-base-static" in result.stdout
    results = (workspace / "reports" / "results.md").read_text()
    assert "Recipe `inc_mrpc_bert_base_static`" in results
    assert f"`model.name={stand_in}` (recipe: Intel/bert-base-uncased-mrpc)" in results
    assert "`data.max_seq_length=32` (recipe: 128)" in results
    table = pd.read_csv(workspace / "reports" / "results.csv")
    assert set(table["method"]) == {"FP32", "PTQ static"}
    section = results.split("## Published references")[1]
    first_row = next(line for line in section.splitlines() if line.startswith("| Intel")
                     or line.startswith("| AIMET") or line.startswith("| Q8BERT"))
    assert first_row.startswith("| Intel Neural Compressor") and "static PTQ" in first_row
    shown = json.loads(dvc(workspace, "exp", "show", "--json").stdout)
    assert "inc-mrpc-bert-base-static" in json.dumps(shown)
