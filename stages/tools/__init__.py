"""Commands beside the pipeline: predict with an export folder, summarize experiments, profile
training steps."""
