"""One error type for every mistake a user can fix: its message names the fix."""


class PipelineError(Exception):
    """A problem with params, data or environment; the message names the fix."""
