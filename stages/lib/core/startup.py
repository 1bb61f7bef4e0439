"""What every process of the pipeline sets before a library loads.

NNCF compiles a C++ extension on first use and allows it 60 s. On a 2-core machine under load
(the tests, CI, a queue of experiments) the build takes longer; NNCF then gives up mid-build
and leaves a lock that stalls every later run until it is deleted. The build is given 10
minutes instead (a user's own NNCF_EXTENSION_LOAD_TIMEOUT wins).

A quiet start-up: two kinds of log lines that every stage printed before any work, and that
a new user reads as errors, are dropped at their loggers. Nothing else is hidden.

- torchao (imported by NNCF's strip) tries its CUDA-only kernels (`_C_mxfp8`, `_C_cutlass_90a`)
  on a CPU build of torch and logs "Failed to load ...": they could never run here.
- torch's pytree logs that torchao still registers Enum classes as constants: a deprecation
  meant for torchao's maintainers.
"""
import logging
import os


def _cuda_kernel_on_cpu_torch(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if not (message.startswith("Failed to load") and "/torchao/_C" in message):
        return False
    import torch
    return torch.version.cuda is None


def _enum_registration_notice(record: logging.LogRecord) -> bool:
    return "is an Enum subclass and is now natively supported" in record.getMessage()


def install() -> None:
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "600")
    logging.getLogger("torchao").addFilter(lambda r: not _cuda_kernel_on_cpu_torch(r))
    logging.getLogger("torch.utils._pytree").addFilter(lambda r: not _enum_registration_notice(r))
