"""Foundations every layer uses: errors, stage runner, paths, atomic files."""
