"""Where every artifact of the pipeline lives, relative to the repository root (dvc.yaml
names the same paths)."""
from pathlib import Path

PARAMS_FILE = Path("params.yaml")
DATA_DIR = Path("data/prepared")          # download: <split>.jsonl + task.json
REFERENCES_FILE = Path("data/references.csv")
RECIPES_DIR = Path("data/recipes")       # one YAML per published row the pipeline can redo
LOCAL_MODELS = Path("models/local")       # your model folders, watched by DVC (a download dep)
BASE_MODEL_DIR = Path("models/base")      # download: tokenizer + pretrained encoder
FP32_DIR = Path("models/fp32")            # finetune
INT8_DIR = Path("models/int8")            # quantize@<method>: one folder per method
ONNX_DIR = Path("models/onnx")            # export: fp32.onnx, <method>.onnx
EXPORT_DIR = Path("models/export")        # package: one self-contained folder per model
CHECKPOINTS = Path("models/checkpoints")  # resumable training (not a DVC output)
REPORTS = Path("reports")
CURVES_DIR = REPORTS / "curves"
EVAL_DIR = REPORTS / "eval"               # pytorch.json, onnx.json: scores and sizes
BENCHMARK_DIR = REPORTS / "benchmark"
TIMINGS = REPORTS / "timings"             # <stage>.json: wall time and step figures
PROFILES_DIR = REPORTS / "profiles"


def method_dir(method: str) -> Path:
    return INT8_DIR / method


def onnx_file(model: str) -> Path:
    return ONNX_DIR / f"{model}.onnx"
