"""Shared pieces of the pipeline; each module owns one idea."""
