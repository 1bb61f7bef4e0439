"""NNCF's CPU fake-quantize arithmetic, compiled by torch.compile into one loop per call.

NNCF runs each quantizer on CPU through its C++ extension, which chains a dozen ATen ops
(clamp, round, masks, masked_fill, ...) and so walks a large activation a dozen times per
forward and again per backward: most of what a QAT step costs over an FP32 one. The same
arithmetic, op for op and in the same order, compiled by inductor reads the tensor once, and
its results are bit for bit those of the extension (tests/test_quantization.py holds the two
side by side): a QAT run gives the same metrics, sooner. The word-embedding table's
quantizer (30,522 x 384 on MiniLM) is the largest: its backward runs on the rows the batch's
tokens touched only, as every other row's gradient is zero.

Only NNCF's CPU functions are replaced, and only built when a quantizer first runs on CPU; on
CUDA NNCF's own kernels run and nothing is compiled. Where torch.compile cannot build (no C++
compiler), NNCF's extension is loaded as before.
"""
import functools
import logging
from types import SimpleNamespace

import nncf
import torch
from nncf.torch.quantization.extensions import QuantizedFunctionsCPU

log = logging.getLogger(__name__)
# The NNCF release whose C++ arithmetic the functions below repeat; another falls back to its own.
NNCF_VERSION = "3.4."


def _forward(input_, input_low, input_range, steps):
    # functions_cpu.cpp q_cpu_forward, steps = levels - 1. Its C++ `scalar / tensor` is a true
    # division, where Python's is reciprocal() * scalar: one ulp apart, enough to flip a
    # rounding.
    s = steps / input_range
    output = torch.maximum(torch.minimum(input_, input_low + input_range), input_low)
    zero_point = torch.round(-input_low * s)
    return torch.round((output - input_low) * s - zero_point) / s


def _backward_elementwise(grad_output, input_, input_low, input_range, steps, alpha):
    """q_cpu_backward up to its reductions: (grad of input, of input_low, of input_range),
    each still the input's shape."""
    output = _forward(input_, input_low, input_range, steps)
    mask_hi = input_ > input_low + input_range
    mask_lo = input_ < input_low
    err = (output - input_) * (torch.ones_like(input_range) / input_range)
    err = torch.where(mask_hi, 1.0, torch.where(mask_lo, alpha, err)) * grad_output
    outside = mask_hi | mask_lo
    return (torch.where(outside, 0.0, grad_output), torch.where(outside, grad_output, 0.0),
            err)


def _backward_symmetric(grad_output, input_, input_low, input_range, steps, alpha):
    """_backward_elementwise without the input_low gradient, which a symmetric quantizer
    (every weight) drops: one tensor fewer written."""
    grad_input, _, grad_range = _backward_elementwise(grad_output, input_, input_low,
                                                      input_range, steps, alpha)
    return grad_input, grad_range


def _nonzero_rows(matrix):
    return (matrix != 0).any(1)


def _sum_like(target, reference):
    """tensor_funcs.cpp sum_like, the same sums in the same order (autograd sums the rest)."""
    if target.numel() == 1:
        return target.sum().view_as(reference)
    for dim in range(reference.dim()):
        if reference.size(dim) == 1:
            target = target.sum(dim, True)
    return target


class CompiledFunctions:
    """The two functions NNCF asks its CPU extension for, with the extension's signatures.
    Level counts go in as 0-d tensors and everything without grad mode, so that torch.compile
    builds one kernel per tensor rank, not one per quantizer kind or calling context."""

    def __init__(self):
        self.forward = torch.compile(_forward, dynamic=True)
        self.backward = torch.compile(_backward_elementwise, dynamic=True)
        self.backward_symmetric = torch.compile(_backward_symmetric, dynamic=True)
        self.nonzero_rows = torch.compile(_nonzero_rows, dynamic=True)

    def Quantize_forward(self, input_, input_low, input_range, levels):  # noqa: N802
        with torch.no_grad():
            return self.forward(*_plain(input_, input_low, input_range),
                                _scalar(levels - 1, input_.dtype))

    def Quantize_backward(self, grad_output, input_, input_low, input_range, levels,  # noqa: N802
                          level_low, level_high, is_asymmetric):
        scheme = (levels, level_low, level_high, is_asymmetric)
        rows = self.rows_with_gradient(grad_output, input_low, input_range)
        if rows is not None:
            return self.backward_of_rows(rows, grad_output, input_, input_low, input_range,
                                         *scheme)
        return self.backward_whole(grad_output, input_, input_low, input_range, *scheme)

    def backward_whole(self, grad_output, input_, input_low, input_range, levels, level_low,
                       level_high, is_asymmetric):
        arguments = (*_plain(grad_output, input_, input_low, input_range),
                     _scalar(levels - 1, input_.dtype), _alpha(level_low, level_high, input_.dtype))
        with torch.no_grad():
            if not is_asymmetric:
                grad_input, grad_range = self.backward_symmetric(*arguments)
                return [grad_input, torch.empty(input_low.shape),
                        _sum_like(grad_range, input_range)]
            grad_input, grad_low, grad_range = self.backward(*arguments)
        return [grad_input, _sum_like(grad_low, input_low), _sum_like(grad_range, input_range)]

    def rows_with_gradient(self, grad_output, input_low, input_range):
        """The rows of a per-row quantized 2-D weight whose gradient is not all zero, or None
        where that is every row. An embedding table's gradient is zero but for the batch's
        tokens (a few hundred of 30,522 rows): its quantizer's backward was a third of the
        quantizers' time in a QAT step."""
        if grad_output.dim() != 2 or not (input_low.shape == input_range.shape
                                          == (grad_output.shape[0], 1)):
            return None
        with torch.no_grad():
            rows = self.nonzero_rows(grad_output.detach()).nonzero().squeeze(1)
        return rows if len(rows) < grad_output.shape[0] else None

    def backward_of_rows(self, rows, grad_output, input_, input_low, input_range, *scheme):
        """Quantize_backward of the given rows only, zeros elsewhere: what the whole tensor
        gives when the other rows' gradient is zero (each row has its own range, so no sum
        mixes rows)."""
        picked = [t.detach().index_select(0, rows)
                  for t in (grad_output, input_, input_low, input_range)]
        grad_input, grad_low, grad_range = self.backward_whole(*picked, *scheme)
        is_asymmetric = scheme[-1]

        def spread(part, like):
            return torch.zeros_like(like).index_copy_(0, rows, part)
        return [spread(grad_input, input_),
                spread(grad_low, input_low) if is_asymmetric else torch.empty(input_low.shape),
                spread(grad_range, input_range)]


def _plain(*tensors):
    """Detached: torch.compile keeps the shapes of Parameters static (one kernel per weight
    shape), those of plain tensors dynamic."""
    return [t.detach() for t in tensors]


@functools.cache
def _scalar(value, dtype):
    """A 0-d tensor, made once per value (a quantizer call is too short to make it anew)."""
    return torch.tensor(value, dtype=dtype)


@functools.cache
def _alpha(level_low, level_high, dtype):
    # the C++ alpha is level_low / level_high in the input's precision
    return _scalar(level_low, dtype) / _scalar(level_high, dtype)


def compiled_functions():
    """CompiledFunctions, or None where they must not run: another NNCF release (its
    arithmetic may differ) or no C++ compiler for torch.compile."""
    if not nncf.__version__.startswith(NNCF_VERSION):
        log.warning("NNCF %s: fake quantizers run NNCF's own CPU extension (the compiled ones "
                    "repeat NNCF %sx)", nncf.__version__, NNCF_VERSION)
        return None
    # NNCF's calls come in about a dozen (rank, layout, size-1 batch) kinds, one kernel each;
    # past torch.compile's default of 8 per function it would run the rest uncompiled (the
    # same results, slower). A process-wide setting: it also lets any other compiled function
    # of the process recompile up to 32 times, which nothing in this pipeline does.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 32)
    functions = CompiledFunctions()
    try:
        functions.Quantize_forward(torch.zeros(2), torch.zeros(1), torch.ones(1), 256)
    except Exception as error:  # inductor raises many kinds; any means "cannot build here"
        log.warning("torch.compile cannot build the fake-quantize kernels (%s); NNCF's own "
                    "CPU extension runs instead", error)
        return None
    return functions


class BuildOnFirstCall:
    """Holds NNCF's CPU slot until a quantizer first runs on CPU, then puts the compiled
    functions there, or NNCF's own extension where they cannot run, and hands over. A run on
    CUDA never calls it, so it compiles nothing and needs no C++ compiler."""

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like ask for these
            raise AttributeError(name)
        chosen = compiled_functions() or QuantizedFunctionsCPU._loader.load()
        QuantizedFunctionsCPU._loaded_namespace = chosen
        return getattr(chosen, name)


def use_compiled_quantizers(enabled: bool = True) -> None:
    """Make NNCF's CPU quantizers run compiled from their first call on (or, enabled=False,
    NNCF's own extension again)."""
    ours = isinstance(QuantizedFunctionsCPU._loaded_namespace, (CompiledFunctions,
                                                                 BuildOnFirstCall))
    if enabled and not ours:
        QuantizedFunctionsCPU._loaded_namespace = BuildOnFirstCall()
    elif not enabled and ours:
        QuantizedFunctionsCPU._loaded_namespace = None  # NNCF loads its own on its next call


def compiled_quantizers_in_use() -> bool:
    """Whether NNCF's CPU quantizers run the compiled functions (after their first call)."""
    return isinstance(QuantizedFunctionsCPU._loaded_namespace, CompiledFunctions)


def nncf_extension() -> SimpleNamespace:
    """NNCF's own CPU functions, whatever is in use (to compare against)."""
    loaded = QuantizedFunctionsCPU._loader.load()
    return SimpleNamespace(Quantize_forward=loaded.Quantize_forward,
                           Quantize_backward=loaded.Quantize_backward)
