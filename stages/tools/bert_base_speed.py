"""INT8 speed at BERT-base size: FP32 against every INT8 engine, side by side in one run, next to
the speedups published for BERT-base (data/speed_references.csv).

Not a pipeline stage. Speed does not depend on weight values, so the model is a config-only
BERT-base (12 layers, hidden 768, 12 heads, random weights): its matmuls weigh in the total as
in the published models, where MiniLM-L6's small ones leave more to the rest. After `dvc repro`
(the packaged tokenizer, the prepared task's sentences):

    python -m stages.tools.bert_base_speed    # writes reports/profiles/bert_base_speed.md
    python -m stages.tools.bert_base_speed --layers 2    # a quick look

Models, made as the pipeline makes them: FP32 (exported fused, export.fuse), ONNX Runtime
dynamic PTQ of that graph, NNCF static PTQ (Q/DQ, the `quantization` scheme, calibrated on
--calibration sentences). Each on ONNX Runtime and OpenVINO (FP32 float parts; a file OpenVINO
cannot read is named), batch 1 and 32 at sequence 128, all cores, `benchmark` warm-up and
repeats; every INT8 engine's speedup over ONNX Runtime FP32 and over the fastest float engine.
"""
import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from stages.benchmark import time_engine
from stages.lib.config.params import load_params
from stages.lib.core.files import write_text
from stages.lib.core.paths import BASE_MODEL_DIR, DATA_DIR, PROFILES_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.prepared import check_prepared_task, load_task, read_split
from stages.lib.inference.engines import onnxruntime_engine, openvino_engine
from stages.lib.inference.fusion import openvino_cannot_read
from stages.lib.inference.machine import cpu_description
from stages.lib.inference.onnx_export import export, export_fp32, store_weights_as_int8
from stages.lib.inference.timing import thread_count
from stages.lib.modeling.features import input_settings, train_items
from stages.lib.modeling.inputs import latency_batch
from stages.lib.quantization.nncf_backend import quantize, strip_for_export
from stages.lib.quantization.ort_backend import quantize_dynamic
from stages.lib.quantization.scheme import Scheme
from stages.lib.reporting.benchmark_report import runs_text

OUT = PROFILES_DIR / "bert_base_speed.md"
SPEED_REFERENCES = Path("data/speed_references.csv")
SHAPES = [(1, 128), (32, 128)]
COLUMNS = ["model", "runtime", "precision", "batch", "seq", "median_ms"]


def bert_base(layers: int, vocab_size: int) -> BertForSequenceClassification:
    torch.manual_seed(0)  # the same random weights every run
    config = BertConfig(vocab_size=vocab_size, num_hidden_layers=layers, num_labels=2)
    return BertForSequenceClassification(config).eval()


def make_models(folder: Path, layers: int, tokenizer, items: list, example: dict,
                scheme: Scheme, opset: int) -> dict:
    """{model: ONNX file}: fp32 (fused), ptq_dynamic (of the fused graph), ptq_static (Q/DQ)."""
    paths = {name: folder / f"{name}.onnx" for name in ("fp32", "ptq_dynamic", "ptq_static")}
    export_fp32(bert_base(layers, len(tokenizer)), example, paths["fp32"], opset, ("logits",),
                fuse=True)
    quantize_dynamic(paths["fp32"], paths["ptq_dynamic"], scheme, [], "int8")
    qmodel = quantize(bert_base(layers, len(tokenizer)), items, tokenizer, scheme,
                      torch.device("cpu"))
    export(strip_for_export(qmodel, example), example, paths["ptq_static"], opset)
    store_weights_as_int8(paths["ptq_static"])
    return paths


def time_engines(paths: dict, batches: dict, threads: int, bench: dict) -> tuple:
    rows, not_run = [], []
    for model, path in paths.items():
        engines = [onnxruntime_engine(model, path, threads)]
        reason = openvino_cannot_read(path)
        if reason:
            not_run.append(f"{model} on openvino: {reason}")
        else:
            engines.append(openvino_engine(model, path, threads, "f32"))
        for engine in engines:
            rows += time_engine(engine, batches, bench)
    return pd.DataFrame(rows)[COLUMNS], not_run


def speedups(rows: pd.DataFrame) -> pd.DataFrame:
    """Each INT8 engine against ONNX Runtime FP32 and against the fastest float engine."""
    out = []
    for (batch, seq), shape in rows.groupby(["batch", "seq"]):
        floats = shape[shape["model"] == "fp32"]
        ort_fp32 = floats[floats["runtime"] == "onnxruntime"]["median_ms"].iloc[0]
        fastest = floats["median_ms"].min()
        for _, row in shape[shape["model"] != "fp32"].iterrows():
            out.append({"model": row["model"], "runtime": row["runtime"], "batch": batch,
                        "seq": seq, "vs ORT FP32": round(ort_fp32 / row["median_ms"], 2),
                        "vs fastest float": round(fastest / row["median_ms"], 2)})
    return pd.DataFrame(out)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.bert_base_speed",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    params = load_params()
    task = load_task(params)
    check_prepared_task(DATA_DIR, task)
    tokenizer = AutoTokenizer.from_pretrained(BASE_MODEL_DIR)
    frame = read_split(DATA_DIR, task.eval_splits[0])
    batches = {shape: latency_batch(tokenizer, frame, *shape) for shape in SHAPES}
    items = train_items(tokenizer, read_split(DATA_DIR, "train"), task,
                        input_settings(params, task))
    scheme = Scheme.from_params({**params, "quantization": {
        **params["quantization"], "subset_size": args.calibration}}, task)
    threads = thread_count(None)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_models(Path(tmp), args.layers, tokenizer, items,
                            latency_batch(tokenizer, frame, 2, 16), scheme,
                            params["export"]["opset"])
        rows, not_run = time_engines(paths, batches, threads, params["benchmark"])
    published = pd.read_csv(SPEED_REFERENCES)
    cpu = cpu_description()
    lines = [f"# INT8 speed at BERT-base size ({args.layers} layers, hidden 768, random "
             "weights)", "",
             f"- CPU: {cpu['cpu']}, {cpu['cores']} cores; ISA: {', '.join(cpu['isa']) or '-'}; "
             f"{threads} threads; median ms of {runs_text(params['benchmark'])}",
             f"- static PTQ calibrated on {args.calibration} sentences of {task.name}", "",
             rows.to_markdown(index=False, floatfmt=".2f"), "",
             *[f"- not run: {reason}" for reason in not_run], "",
             "## INT8 speedups", "", speedups(rows).to_markdown(index=False), "",
             "## Published", "",
             published.drop(columns=["notes"]).to_markdown(index=False)]
    text = "\n".join(lines) + "\n"
    print(text)
    write_text(args.out, text)


if __name__ == "__main__":
    run_stage(main)
