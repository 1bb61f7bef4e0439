"""Shared pieces of the pipeline; each module owns one idea."""
from .core import quiet

quiet.install()  # before any module imports torchao through NNCF
