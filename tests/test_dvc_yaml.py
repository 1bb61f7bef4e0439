"""dvc.yaml must list every source file a stage runs, or a code change would not rerun it."""
import ast
from pathlib import Path

import yaml

from conftest import REPO

STAGES = ["download", "finetune", "qat", "evaluate", "export", "report", "package"]


def local_imports(path: Path) -> set:
    """Files under stages/ that `path` imports, directly or not."""
    seen, todo = set(), [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(current.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:  # from .x import y, inside stages/lib
                    base = current.parent / (node.module or "")
                elif node.module and node.module.startswith("stages"):
                    base = REPO / node.module.replace(".", "/")
                else:
                    continue
                candidates = [base.with_suffix(".py")] + [base / f"{a.name}.py" for a in node.names]
                todo += [c for c in candidates if c.is_file()]
    return {str(p.relative_to(REPO)) for p in seen}


def test_stage_order_and_code_deps():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert list(stages) == STAGES
    for name in STAGES:
        deps = set(stages[name]["deps"])
        missing = local_imports(REPO / "stages" / f"{name}.py") - deps
        assert not missing, f"stage {name} runs {sorted(missing)} but does not list them in deps"


def test_every_stage_reads_the_task_and_declares_outputs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert "task" in stage["params"], name
        assert stage.get("outs") or stage.get("metrics"), name
