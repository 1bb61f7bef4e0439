"""A quiet start-up: two kinds of log lines that every stage printed before any work, and that
a new user reads as errors, are dropped at their loggers. Nothing else is hidden.

- torchao (imported by NNCF's strip) tries its CUDA-only kernels (`_C_mxfp8`, `_C_cutlass_90a`)
  on a CPU build of torch and logs "Failed to load ...": they could never run here.
- torch's pytree logs that torchao still registers Enum classes as constants: a deprecation
  meant for torchao's maintainers.
"""
import logging


def _cuda_kernel_on_cpu_torch(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if not (message.startswith("Failed to load") and "/torchao/_C" in message):
        return False
    import torch
    return torch.version.cuda is None


def _enum_registration_notice(record: logging.LogRecord) -> bool:
    return "is an Enum subclass and is now natively supported" in record.getMessage()


def install() -> None:
    logging.getLogger("torchao").addFilter(lambda r: not _cuda_kernel_on_cpu_torch(r))
    logging.getLogger("torch.utils._pytree").addFilter(lambda r: not _enum_registration_notice(r))
