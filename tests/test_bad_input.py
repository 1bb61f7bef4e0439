"""Bad input stops a stage at once, with a message naming the fix, and writes nothing."""
import importlib
import json
import re

import pytest
import torch
import yaml
from conftest import REPO, set_dotted

from stages.lib.core.errors import PipelineError

STAGES = ("download", "finetune", "qat", "ptq_static", "ptq_dynamic", "evaluate", "export",
          "benchmark", "report", "package")
GOOD_TRAIN = [["sentence", "label"], ["a fine film", "1"], ["a dull film", "0"]]
GOOD_DEV = [["sentence", "label"], ["fine", "1"], ["dull", "0"]]


def write_tsv(path, rows, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join("\t".join(row) + "\n" for row in rows).encode(encoding))


def squad_file(path, ids):
    context = "The film was fine."
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{
        "context": context, "qas": [{"id": i, "question": "How was it?", "answers": [
            {"text": "fine", "answer_start": context.index("fine")}]} for i in ids]}]}]}))
    return str(path)


def run_download_with(workdir, params):
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    importlib.import_module("stages.download").main()


@pytest.fixture
def stage_dir(tmp_path, monkeypatch):
    """An empty folder holding params.yaml only: whatever else appears was written."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


@pytest.fixture
def glue(tmp_path):
    """A small, valid SST-2 in the glue_data layout; cases spoil one thing in it."""
    root = tmp_path / "glue_data"
    write_tsv(root / "SST-2" / "train.tsv", GOOD_TRAIN)
    write_tsv(root / "SST-2" / "dev.tsv", GOOD_DEV)
    return root


def default_params(**changes):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    return set_dotted(params, changes)


def local_sst2(glue_root, **changes):
    return default_params(**{"task": "sst2", "data.source": "local", "data.dir": str(glue_root),
                             **changes})


def spoil(case, glue):
    """Break the data for `case`; returns the params that read it."""
    sst2 = glue / "SST-2"
    if case == "missing file":
        (sst2 / "dev.tsv").unlink()
    elif case == "missing column":
        write_tsv(sst2 / "train.tsv", [["text", "label"], ["good", "1"]])
    elif case == "extra field":
        write_tsv(sst2 / "train.tsv", GOOD_TRAIN + [["a tab", "inside", "1"]])
    elif case == "short row":
        write_tsv(sst2 / "train.tsv", GOOD_TRAIN + [["no label"]])
    elif case == "unknown label":
        write_tsv(sst2 / "dev.tsv", GOOD_DEV + [["meh", "neutral"]])
    elif case == "empty split":
        write_tsv(sst2 / "dev.tsv", GOOD_DEV[:1])
    elif case == "not utf-8":
        write_tsv(sst2 / "train.tsv", GOOD_TRAIN + [["d\xe9j\xe0 vu", "1"]], encoding="latin-1")
    elif case == "empty text":
        write_tsv(sst2 / "train.tsv", GOOD_TRAIN + [["  ", "1"]])
    elif case == "missing data dir":
        return local_sst2(glue.parent / "nowhere")
    elif case == "duplicated ids":
        return default_params(**{"task": "squad", "data.source": "local",
                                 "data.train_file": squad_file(glue / "t.json", ["q1", "q1"]),
                                 "data.validation_file": squad_file(glue / "d.json", ["q2"])})
    elif case == "not squad json":
        (glue / "t.json").write_text("[1, 2]")
        return default_params(**{"task": "squad", "data.source": "local",
                                 "data.train_file": str(glue / "t.json"),
                                 "data.validation_file": squad_file(glue / "d.json", ["q2"])})
    return local_sst2(glue)


DATA_CASES = [
    ("missing file", "SST-2/dev.tsv not found: data.dir must hold SST-2/dev.tsv"),
    ("missing column", "lacks column(s) ['sentence']; its header is ['text', 'label']"),
    ("extra field", "line 4: 3 tab-separated fields but the header has 2"),
    ("short row", "line 4: 1 tab-separated fields, expected at least 2"),
    ("unknown label", "sst2/validation: unknown label 'neutral'; sst2 labels are"),
    ("empty split", "split 'validation' of sst2 is empty"),
    ("not utf-8", "train.tsv is not UTF-8 text"),
    ("empty text", "sst2/train, line 4: `sentence` is empty; fill it in or remove the row"),
    ("missing data dir", "nowhere' is not a folder"),
    ("duplicated ids", "squad/train: question id 'q1' appears twice"),
    ("not squad json", "is not a SQuAD file: expected JSON with a top-level"),
]


@pytest.mark.parametrize("case, message", DATA_CASES, ids=[c for c, _ in DATA_CASES])
def test_bad_data_is_refused_at_download_and_nothing_is_written(case, message, glue, stage_dir):
    params = spoil(case, glue)
    with pytest.raises(PipelineError, match=re.escape(message)):
        run_download_with(stage_dir, params)
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


PARAM_CASES = [
    ("finetune.batchsize", 16, "unknown param `finetune.batchsize`; did you mean "
                               "`finetune.batch_size`?"),
    ("benchmarks", {"repeats": 3}, "unknown param `benchmarks`; did you mean `benchmark`?"),
    ("task", "glue", "unknown task 'glue'"),
    ("model.name", "no such model!", "unknown model 'no such model!'"),
    ("model.trust_remote_code", "yes", "`model.trust_remote_code` must be true or false"),
    ("finetune.lr", "fast", "`finetune.lr` must be a positive number, got 'fast'"),
    ("train.num_processes", 0, "`train.num_processes` must be a positive number, got 0"),
    ("train.num_processes", 64, "`finetune.batch_size` (32) is the global batch, shared by "
                                "train.num_processes=64 processes"),
    ("train.mixed_precision", "fp8", "`train.mixed_precision` must be one of"),
    ("train.checkpoint_every", -5, "`train.checkpoint_every` must be a positive number or null"),
    ("train.abort_grad_norm", "big", "`train.abort_grad_norm` must be a positive number or null"),
    ("data", "glue", "`data` must be a mapping of keys, got 'glue'"),
    ("export.opset", 5, "`export.opset` must be 13 to 20 (INT8 Q/DQ per channel needs 13"),
]


@pytest.mark.parametrize("dotted, value, message", PARAM_CASES,
                         ids=[f"{d}={v}" for d, v, _ in PARAM_CASES])
def test_bad_params_are_refused_before_any_work(dotted, value, message, stage_dir):
    with pytest.raises(PipelineError, match=re.escape(message)):
        run_download_with(stage_dir, default_params(**{dotted: value}))
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for a GPU this machine lacks")
@pytest.mark.parametrize("changes, message", [
    ({"device": "cuda"}, "device=cuda but no CUDA GPU is visible to torch; use -S device=auto"),
    ({"train.mixed_precision": "fp16"}, "train.mixed_precision=fp16 needs a CUDA GPU"),
])
def test_a_missing_gpu_is_named_before_any_work(changes, message, stage_dir):
    with pytest.raises(PipelineError, match=re.escape(message)):
        run_download_with(stage_dir, default_params(**changes))
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_checks_params_first(stage, stage_dir):
    """A typo in `-S` surfaces at the first stage it reaches, not hours later."""
    params = default_params()
    params["qat"]["epoch"] = 3
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match=re.escape("unknown param `qat.epoch`; did you mean "
                                                      "`qat.epochs`?")):
        importlib.import_module(f"stages.{stage}").main()
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


def test_params_file_that_is_not_yaml_is_named(stage_dir):
    (stage_dir / "params.yaml").write_text("task: [sst2\nseed: 1\n")
    with pytest.raises(PipelineError, match="params.yaml is not valid YAML"):
        importlib.import_module("stages.download").main()
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


def test_a_byte_order_mark_and_crlf_line_ends_are_read_as_plain_utf8(glue):
    """Excel and Notepad save TSVs this way; the prepared rows are the same."""
    from stages.lib.data.sources import load_local, prepare
    from stages.lib.tasks.registry import get_task
    task = get_task("sst2")
    plain = prepare(load_local(task, str(glue)), task, None, None)
    for name in ("train.tsv", "dev.tsv"):
        path = glue / "SST-2" / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    windows = prepare(load_local(task, str(glue)), task, None, None)
    for split in plain:
        assert windows[split].equals(plain[split])


def test_an_input_length_beyond_the_models_positions_is_refused_at_download(glue, stage_dir):
    params = local_sst2(glue, **{"data.max_seq_length": 100000})
    with pytest.raises(PipelineError, match=re.escape(
            "`data.max_seq_length` is 100000 but model minilm-l6 reads at most 512 tokens; "
            "lower it (e.g. -S data.max_seq_length=512)")):
        run_download_with(stage_dir, params)
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]


@pytest.mark.parametrize("files", [[], ["config.json"]], ids=["empty", "config only"])
def test_a_model_folder_without_a_model_leaves_nothing_behind(files, glue, stage_dir, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name in files:
        (folder / name).write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(PipelineError, match="must hold a Hugging Face model"):
        run_download_with(stage_dir, local_sst2(glue, **{"model.name": str(folder)}))
    assert [p.name for p in stage_dir.iterdir()] == ["params.yaml"]  # no empty models/
