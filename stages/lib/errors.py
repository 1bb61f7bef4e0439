"""One error type for every mistake a user can fix, and the wrapper that reports it."""
import sys


class PipelineError(Exception):
    """A problem with params, data or environment; the message names the fix."""


def run_stage(main):
    """Run a stage's main(); a PipelineError ends it with its message and exit code 2."""
    try:
        main()
    except PipelineError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        sys.exit(2)
