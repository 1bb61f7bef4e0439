"""What a user sees when a stage starts: no alarming lines before any work."""
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
