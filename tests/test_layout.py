"""The library's layers: a module imports only from its own package or a lower one, and no
module imports back up into the stage mains or tools."""
import ast
from pathlib import Path

from conftest import REPO

LIB = REPO / "stages" / "lib"
LAYERS = ["core", "tasks", "data", "modeling", "quantization", "inference", "reporting", "config"]


def imported_packages(path: Path):
    """(package, line) of every stages.lib package `path` imports, and other stages modules."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            parts = path.relative_to(REPO).parent.parts[:len(path.relative_to(REPO).parent.parts)
                                                        - node.level + 1]
            dotted = ".".join(parts + tuple((node.module or "").split(".")) if node.module
                              else parts)
        else:
            dotted = node.module or ""
        yield dotted, node.lineno


def test_every_library_package_is_a_known_layer():
    packages = {p.name for p in LIB.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(LAYERS)


def test_imports_only_go_down_the_layers():
    wrong = []
    for path in LIB.rglob("*.py"):
        where = path.relative_to(LIB).parts
        own = where[0] if len(where) > 1 else LAYERS[0]  # lib/__init__.py may use core only
        for dotted, line in imported_packages(path):
            if not dotted.startswith("stages"):
                continue
            parts = dotted.split(".")
            if parts[:2] != ["stages", "lib"]:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {dotted} (a stage/tool)")
                continue
            target = parts[2]
            if LAYERS.index(target) > LAYERS.index(own):
                wrong.append(f"{path.relative_to(REPO)}:{line} ({own}) imports up into {target}")
    assert not wrong, "\n".join(wrong)


def test_stage_mains_do_not_import_each_other_or_the_tools():
    for path in (REPO / "stages").glob("*.py"):
        for dotted, line in imported_packages(path):
            assert not dotted.startswith("stages.tools"), f"{path.name}:{line}"
            if dotted.startswith("stages.") and not dotted.startswith("stages.lib"):
                raise AssertionError(f"{path.name}:{line} imports the stage {dotted}")

