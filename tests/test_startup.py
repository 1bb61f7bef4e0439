"""What a user sees when a stage starts: no alarming lines before any work."""
import os
import subprocess
import sys

from conftest import REPO


def test_start_up_is_quiet_but_real_warnings_still_show():
    """torchao's CUDA-kernel and pytree notices were printed by every stage; nothing else is
    hidden."""
    code = ("import stages.export, logging\n"
            "from nncf.torch.function_hook import strip  # imports torchao, as stripping does\n"
            "logging.getLogger('torchao').warning('a real torchao warning')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Failed to load" not in result.stderr
    assert "Enum subclass" not in result.stderr
    assert "a real torchao warning" in result.stderr


def test_nncf_gets_time_to_build_its_extension_on_a_busy_machine():
    code = "import os, stages.lib; print(os.environ['NNCF_EXTENSION_LOAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "NNCF_EXTENSION_LOAD_TIMEOUT"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, env=env)
    assert result.stdout.strip() == "600"  # NNCF's own 60 s leave a stale lock when exceeded
