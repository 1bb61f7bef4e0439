"""Runtimes: ONNX export and sessions, engines, timing, profiling."""
