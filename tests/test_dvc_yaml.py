"""dvc.yaml must list every source file a stage runs, or a code change would not rerun it."""
import ast
from pathlib import Path

import yaml
from conftest import REPO

from stages.lib.quantization.methods import METHODS

STAGES = ["download", "finetune", "quantize", "evaluate", "export", "benchmark", "report",
          "package"]
METHOD_STAGE = "quantize"  # foreach over `methods`: cmd python -m stages.<method>


def methods() -> list:
    """Every method a run may list, not only the default ones."""
    return list(METHODS)


def stage_scripts(name: str) -> list:
    if name == METHOD_STAGE:
        return [REPO / "stages" / f"{method}.py" for method in methods()]
    return [REPO / "stages" / f"{name}.py"]


def stage_body(stage: dict) -> dict:
    return stage["do"] if "foreach" in stage else stage


def local_imports(path: Path) -> set:
    """Files under stages/ that `path` imports, directly or not (package __init__ files
    included: Python runs them on the way)."""
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(current.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # from .x import y / from ..pkg.x import y, inside stages/lib
                    base = current.parents[node.level - 1] / (node.module or "").replace(".", "/")
                elif node.module and node.module.startswith("stages"):
                    base = REPO / node.module.replace(".", "/")
                else:
                    continue
                candidates = [base.with_suffix(".py")] + [base / f"{a.name}.py" for a in node.names]
                found = [c for c in candidates if c.is_file()]
                todo += found + [parent / "__init__.py" for c in found for parent in c.parents
                                 if REPO / "stages" in parent.parents
                                 and (parent / "__init__.py").is_file()]
    return {str(p.relative_to(REPO)) for p in seen}


def test_stage_order_and_code_deps():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == STAGES
    for name in STAGES:
        deps = {dep.replace("${item}", method) for dep in stage_body(stages[name])["deps"]
                for method in methods()}
        for script in stage_scripts(name):
            missing = local_imports(script) - deps
            assert not missing, f"{script.name} runs {sorted(missing)}, not in {name}'s deps"


def test_every_method_is_a_stage_with_its_own_params_and_output():
    stage = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][METHOD_STAGE]
    assert stage["foreach"] == "${methods}"
    assert "${item}" in stage["do"]["params"]
    assert stage["do"]["outs"][0] == "models/int8/${item}"
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for method in methods():
        assert (REPO / "stages" / f"{method}.py").is_file() and method in params


def test_every_stage_reads_the_task_and_declares_outputs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        stage = stage_body(stage)
        assert "task" in stage["params"], name
        assert stage.get("outs") or stage.get("metrics"), name


def declared(stage: dict, kind: str) -> dict:
    return {path: spec for out in stage.get(kind) or [] if isinstance(out, dict)
            for path, spec in out.items()}


def test_every_stage_declares_the_wall_time_file_its_script_writes():
    """run_stage(main, timed=True) writes reports/timings/<script>.json: an undeclared file
    would be left out of git and of the run cache. It is a metric (kept in git), because DVC
    saves a stage to its run cache only when its uncached outputs are metrics or plots."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in STAGES:
        stem = "${item}" if name == METHOD_STAGE else name
        metrics = declared(stage_body(stages[name]), "metrics")
        assert metrics.get(f"reports/timings/{stem}.json") == {"cache": False}, name
        for script in stage_scripts(name):
            assert "run_stage(main, timed=True)" in script.read_text(), script.name


def test_the_stages_that_make_models_can_be_restored_from_the_run_cache():
    """An experiment that returns to earlier params gets its models back from DVC's run cache
    instead of training them again; DVC refuses that for a stage with an uncached output that
    is neither a metric nor a plot. Benchmark and report measure and write tables: they rerun."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in set(STAGES) - {"benchmark", "report"}:
        uncached = [path for path, spec in declared(stage_body(stages[name]), "outs").items()
                    if spec and spec.get("cache") is False]
        assert not uncached, (name, uncached)
