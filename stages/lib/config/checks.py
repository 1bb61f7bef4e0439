"""Checks of one param each: present, of the right type and range; the message names the
dotted key, the value and what is allowed."""
from ..core.errors import PipelineError


def require(params, dotted):
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise PipelineError(f"params.yaml lacks `{dotted}`; add it "
                                "(see docs/params.md)")
        node = node[key]
    return node


def positive(params, dotted, kind=(int, float), allow_none=False):
    value = require(params, dotted)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        allowed = " or null" if allow_none else ""
        raise PipelineError(f"`{dotted}` must be a positive number{allowed}, got {value!r}")


def choice(params, dotted, allowed):
    value = require(params, dotted)
    if value not in allowed:
        names = ("null" if choice is None else str(choice) for choice in allowed)
        raise PipelineError(f"`{dotted}` must be one of {', '.join(names)}; got {value!r}")
    return value


def boolean(params, dotted):
    value = require(params, dotted)
    if not isinstance(value, bool):
        raise PipelineError(f"`{dotted}` must be true or false, got {value!r}")


def list_of(params, dotted, allowed=None, positive_or_null=False, example=""):
    values = require(params, dotted)
    def fits(value):
        if allowed is not None:
            return value in allowed
        return value is None or (isinstance(value, int) and not isinstance(value, bool)
                                 and value > 0)
    if not isinstance(values, list) or not values or not all(fits(v) for v in values):
        what = (f"of {', '.join(allowed)}" if allowed is not None
                else "of positive integers or null")
        raise PipelineError(f"`{dotted}` must be a non-empty list {what}, got {values!r}"
                            + (f" (e.g. {example})" if example else ""))
