"""The INT8 method registry: one record per method the pipeline can make. Every consumer
(params validation, the quantize@<method> stages, evaluation, export, the results table,
references, model cards, the summary) reads what a method is from here.

Result rows are named after the model they score: `fp32` and each method for PyTorch,
`onnx_<name>` for the same model in ONNX Runtime (`onnx_row`, `model_of`).
"""
from dataclasses import dataclass

FP32 = "fp32"
ONNX_PREFIX = "onnx_"


@dataclass(frozen=True)
class Method:
    name: str       # the `methods` entry, the stage quantize@<name> and its params section
    label: str      # how tables and charts name it
    backend: str    # nncf: a fake-quantized PyTorch model, exported to ONNX Q/DQ;
                    # onnx: made from the FP32 ONNX file (ONNX Runtime, or NNCF's ONNX
                    # backend), no PyTorch model
    how_made: str   # one line for the model card
    effort: int     # what making it takes: 0 no data, 1 calibration, 2 training
    published_as: tuple = ()  # words in a published row's method that mean this method
    variants: tuple = ()      # (param, label suffix): a param that makes another variant
    selects_on: str = ""      # the param naming the rows the method chooses among models on

    @property
    def has_torch_model(self) -> bool:
        return self.backend == "nncf"

    def label_for(self, params: dict) -> str:
        """The label of what these params make ('QAT + distillation'). `params` nested as in
        params.yaml, or flattened with dots as `dvc exp show` gives them."""
        return self.label + "".join(suffix for key, suffix in self.variants
                                    if _lookup(params, key))

    def picks_on_scored_split(self, params: dict) -> bool:
        """Whether these params made the method choose among models on the validation split
        its score is read from (runs from before `selects_on` existed all did): that score is
        the best of the models tried there, optimistic on a small split."""
        return bool(self.selects_on) and _lookup(params, self.selects_on) in (None, "validation")


def _lookup(params: dict, dotted: str):
    if dotted in params:
        return params[dotted]
    node = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


METHODS = {m.name: m for m in [
    Method("qat", "QAT", "nncf", "quantization-aware training (NNCF): calibration, then "
           "training with the quantizers", effort=2,
           variants=(("qat.distill.enabled", " + distillation"),)),
    Method("ptq_static", "PTQ static", "nncf", "post-training static quantization (NNCF): "
           "calibration only", effort=1, published_as=("static",)),
    Method("ptq_accuracy", "PTQ accuracy-aware", "onnx", "post-training static quantization "
           "with accuracy control (NNCF, on the ONNX model): the layers that cost the most "
           "kept in FP32 until the metric on the selection rows is within report.max_drop",
           effort=1, published_as=("left in fp32", "accuracy-driven", "accuracy-aware"),
           selects_on="ptq_accuracy.select_on"),
    Method("ptq_dynamic", "PTQ dynamic", "onnx", "post-training dynamic quantization "
           "(ONNX Runtime): INT8 weights, activations quantized per batch at run time",
           effort=0, published_as=("dynamic",)),
]}
DEFAULT = "qat"  # what a published row made by neither static nor dynamic PTQ compares with


def get_method(name: str) -> Method:
    return METHODS[name]


def onnx_row(model: str) -> str:
    """'qat' -> 'onnx_qat': the row of a model run in ONNX Runtime."""
    return ONNX_PREFIX + model


def model_of(row: str) -> str:
    """'onnx_qat' -> 'qat', 'fp32' -> 'fp32'."""
    return row.removeprefix(ONNX_PREFIX)


def is_onnx(row: str) -> bool:
    return row.startswith(ONNX_PREFIX)


def torch_methods(names: list) -> list:
    """The methods among `names` that have a PyTorch model to evaluate and export."""
    return [name for name in names if METHODS[name].has_torch_model]


def published_method(text: str) -> str:
    """The method a published row's `method` text describes: the most specific words win
    ('static PTQ, one Linear left in FP32' is accuracy-aware, not plain static)."""
    text = text.lower()
    found = [(len(word), m.name) for m in METHODS.values() for word in m.published_as
             if word in text]
    return max(found)[1] if found else DEFAULT


def row_label(row: str) -> str:
    """'onnx_ptq_static' -> 'INT8 PTQ static (ONNX Runtime)'; 'fp32' -> 'FP32 (PyTorch)'."""
    model = model_of(row)
    runtime = "ONNX Runtime" if is_onnx(row) else "PyTorch"
    name = "FP32" if model == FP32 else f"INT8 {METHODS[model].label}"
    return f"{name} ({runtime})"
