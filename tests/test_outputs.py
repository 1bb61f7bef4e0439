"""Outputs appear whole or not at all, even when the process is killed while writing them;
timing files keep the runner's own figures."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from stages.lib.core import runner

WRITER = """
import sys, time
from stages.lib.core.files import atomic_dir, atomic_file
kind = sys.argv[1]
if kind == "dir":
    with atomic_dir("out") as scratch:
        for i in range(1000):
            (scratch / f"part{i}").write_text("new")
            time.sleep(0.01)
else:
    with atomic_file("out.txt") as scratch:
        with open(scratch, "w") as handle:
            for i in range(1000):
                handle.write("new\\n")
                handle.flush()
                time.sleep(0.01)
"""


def kill_while_writing(folder, kind, scratch):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, kind], cwd=folder,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not scratch.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # some of the new output is written by now
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_sigkill_while_writing_leaves_the_previous_output_whole(kind, tmp_path):
    if kind == "dir":
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "part0").write_text("old")
        kill_while_writing(tmp_path, kind, tmp_path / ".out.partial")
        assert [p.read_text() for p in (tmp_path / "out").iterdir()] == ["old"]
    else:
        (tmp_path / "out.txt").write_text("old\n")
        kill_while_writing(tmp_path, kind, tmp_path / ".out.txt.partial")
        assert (tmp_path / "out.txt").read_text() == "old\n"
    # What the killed writer left is a hidden scratch name no stage reads, and the next
    # writer starts it afresh.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert leftovers and all(name.startswith(".") for name in leftovers)


def test_a_stage_cannot_overwrite_the_wall_time_the_runner_records(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "TIMINGS", tmp_path)
    with pytest.raises(ValueError, match=r"\['wall_s'\]"):
        runner.record_wall_time("qat", 1.0, {"wall_s": 5.0})
    runner.record_wall_time("qat", 1.0, {"quantize_s": 5.0})
    assert json.loads((tmp_path / "qat.json").read_text())["quantize_s"] == 5.0
