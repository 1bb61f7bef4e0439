"""Shared pieces of the pipeline; each module owns one idea."""
from .core import startup

startup.install()  # before NNCF builds its extension or imports torchao
