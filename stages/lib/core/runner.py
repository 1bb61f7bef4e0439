"""Running a stage: a user's mistake ends it with its message, and its wall time and
facts go to reports/timings/<stage>.json (cache: false: timings never enter a cached artifact)."""
import json
import os
import sys
import time
from pathlib import Path

from .errors import PipelineError
from .paths import TIMINGS

STARTED_AT = "PIPELINE_STAGE_STARTED_AT"  # set by a stage that relaunches itself (distributed)


def run_stage(main, timed=False):
    """Run a stage's main(); a PipelineError ends it with its message and exit code 2.

    `timed`: a DVC stage records its wall time (imports included) in
    reports/timings/<script>.json, so that the reports say where a run's time went, with
    whatever main() returns (e.g. training step times)."""
    started = time.perf_counter()
    try:
        facts = main()
    except PipelineError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        sys.exit(2)
    if timed and os.environ.get("RANK", "0") == "0":  # one record for all DDP processes
        record_wall_time(Path(sys.argv[0]).stem, time.perf_counter() - started, facts or {})


def stage_facts(stage: str) -> dict:
    """What a finished stage recorded of its run (wall time, latency, training figures);
    empty when it has not run here."""
    path = TIMINGS / f"{stage}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def seconds_since_process_start() -> float | None:
    """Linux: from /proc, so that loading torch and friends counts too; from the launching
    process's start for a stage run as several processes."""
    if STARTED_AT in os.environ:
        return time.time() - float(os.environ[STARTED_AT])
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime
        return float(Path("/proc/uptime").read_text().split()[0]) - started
    except (OSError, ValueError, IndexError):
        return None


def record_wall_time(stage: str, main_s: float, facts: dict) -> None:
    clash = {"stage", "wall_s", "main_s"} & set(facts)
    if clash:  # a stage's own figure must not overwrite the runner's (it once did)
        raise ValueError(f"stage {stage} returned {sorted(clash)}, which the runner records")
    wall = seconds_since_process_start()
    record = {"stage": stage, "wall_s": round(wall if wall and wall >= main_s else main_s, 2),
              "main_s": round(main_s, 2), **facts}
    TIMINGS.mkdir(parents=True, exist_ok=True)
    scratch = TIMINGS / f".{stage}.json.partial"
    scratch.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(scratch, TIMINGS / f"{stage}.json")
