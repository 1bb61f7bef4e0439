"""Outputs appear whole or not at all: written aside, then moved into place."""
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path


def make_parents(path: Path) -> list:
    """Create the missing folders above `path`; returns them, deepest first."""
    created = [parent for parent in path.parents if not parent.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    return created


def remove_if_empty(folders: list) -> None:
    """Undo make_parents after a failure, so that nothing half-made is left behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty: something else lives there now
            return


@contextmanager
def atomic_dir(path):
    """Yield a scratch folder that replaces `path` only if the block completes."""
    path = Path(path)
    scratch = path.with_name(f".{path.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)
    created = make_parents(path)
    scratch.mkdir()
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        remove_if_empty(created)
        raise
    shutil.rmtree(path, ignore_errors=True)
    scratch.rename(path)


@contextmanager
def atomic_file(path):
    """Yield a scratch file name that replaces `path` only if the block completes."""
    path = Path(path)
    created = make_parents(path)
    scratch = path.with_name(f".{path.name}.partial")
    try:
        yield scratch
    except BaseException:
        scratch.unlink(missing_ok=True)
        remove_if_empty(created)
        raise
    os.replace(scratch, path)


def write_text(path, text: str) -> None:
    with atomic_file(path) as scratch:
        scratch.write_text(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def size_mb(path) -> float:
    return round(Path(path).stat().st_size / 2**20, 3)


def digest_file(path, digest=None):
    """The sha256 digest of a file's bytes (fed into `digest` when given), read in blocks."""
    digest = digest or hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest
