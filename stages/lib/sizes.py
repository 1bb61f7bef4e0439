"""File sizes as the results table reports them."""
from pathlib import Path


def size_mb(path) -> float:
    return round(Path(path).stat().st_size / 2**20, 3)
