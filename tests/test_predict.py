"""The export folder and `python -m stages.tools.predict`: what a user runs on their own text."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, small_params, stage_env
from transformers import AutoTokenizer

from stages.lib.core.errors import PipelineError
from stages.lib.core.files import write_json
from stages.lib.inference.onnx_export import export
from stages.lib.modeling.models import load_task_model
from stages.lib.reporting.serving import ExportedModel, read_examples
from stages.lib.tasks.registry import get_task
from stages.package import model_info

MAX_LENGTH = 40


def export_folder(tiny_model_dir, folder, task_name, **overrides):
    """What the package stage writes, for the tiny model with `task_name`'s head."""
    task = get_task(task_name)
    params = small_params(tiny_model_dir, task=task_name, **{"data.max_seq_length": MAX_LENGTH},
                          **overrides)
    torch.manual_seed(0)
    model = load_task_model(tiny_model_dir, task).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = dict(tokenizer(["an example"] * 2, ["for tracing"] * 2, return_tensors="pt"))
    folder.mkdir(parents=True)
    export(model, example, folder / "model.onnx", 17, task.output_names)
    tokenizer.save_pretrained(folder)
    model.config.save_pretrained(folder)
    write_json(folder / "model_info.json", model_info(task, params, "fp32"))
    return model, tokenizer


@pytest.fixture(scope="module")
def mrpc_export(tiny_model_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "mrpc"
    model, tokenizer = export_folder(tiny_model_dir, folder, "mrpc")
    return folder, model, tokenizer


def predict_cli(*args):
    return subprocess.run([sys.executable, "-m", "stages.tools.predict", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=stage_env())


def test_predictions_match_the_pytorch_model_the_export_came_from(mrpc_export):
    folder, model, tokenizer = mrpc_export
    pairs = [["the cat sat on the mat", "a cat was sitting on a mat"],
             ["stocks rose 3%", "it rained in paris"]]
    predictions = ExportedModel(folder).predict(pairs)
    with torch.no_grad():
        logits = model(**tokenizer([p[0] for p in pairs], [p[1] for p in pairs], padding=True,
                                   return_tensors="pt")).logits
    expected = torch.softmax(logits, dim=-1).numpy()
    for prediction, probabilities in zip(predictions, expected):
        assert list(prediction["probabilities"]) == ["0", "1"]
        assert np.allclose(list(prediction["probabilities"].values()), probabilities, atol=1e-3)
        assert prediction["label"] == ["0", "1"][int(probabilities.argmax())]


def test_the_command_reads_the_command_line_or_a_tab_separated_file(mrpc_export, tmp_path):
    folder = mrpc_export[0]
    one = predict_cli(folder, "the cat sat on the mat", "a cat was sitting on a mat")
    assert one.returncode == 0, one.stderr
    first = json.loads(one.stdout.strip())
    assert first["input"] == ["the cat sat on the mat", "a cat was sitting on a mat"]

    inputs = tmp_path / "inputs.tsv"
    inputs.write_text("the cat sat on the mat\ta cat was sitting on a mat\n"
                      "stocks rose 3%\tit rained in paris\n", encoding="utf-8")
    many = predict_cli(folder, "--file", inputs)
    assert many.returncode == 0, many.stderr
    lines = [json.loads(line) for line in many.stdout.strip().splitlines()]
    assert len(lines) == 2 and lines[0] == first


@pytest.mark.parametrize("texts, message", [
    ([], "no input: give the text on the command line or --file FILE"),
    (["only one sentence"], "input 1 has 1 text(s); mrpc takes 2: sentence1, sentence2"),
    (["a", "b", "c"], "input 1 has 3 text(s); mrpc takes 2"),
    (["fine", "   "], "input 1: sentence2 is empty"),
    (["", "fine"], "input 1: sentence1 is empty"),
    (["x" * 30, "y" * 30], "input 1: sentence1 + sentence2 is 63 tokens; this model takes at "
                           f"most {MAX_LENGTH}. Shorten it"),
])
def test_bad_input_is_refused_with_the_fix(mrpc_export, texts, message):
    result = predict_cli(mrpc_export[0], *texts)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_file_problems_are_named(mrpc_export, tmp_path):
    folder = mrpc_export[0]
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("caf\xe9\tbar\n".encode("latin-1"))
    blank = tmp_path / "blank.tsv"
    blank.write_text("a cat\ta dog\n\n")
    cases = [(("--file", tmp_path / "missing.tsv"), "input file"),
             (("--file", latin1), "is not UTF-8 text"),
             (("--file", blank), "input 2 has 1 text(s)"),
             (("--file", blank, "some text"), "not both"),
             ((), "the following arguments are required")]
    for args, message in cases:
        result = predict_cli(folder, *args) if args else predict_cli()
        assert result.returncode == 2, args
        assert message in result.stderr, (args, result.stderr[-500:])


def test_a_folder_that_is_not_an_export_is_refused(tmp_path):
    with pytest.raises(PipelineError, match="is not an export folder"):
        ExportedModel(tmp_path)


def test_regression_gives_a_score_and_single_text_tasks_take_one_text(tiny_model_dir, tmp_path):
    export_folder(tiny_model_dir, tmp_path / "stsb", "stsb")
    (score,) = ExportedModel(tmp_path / "stsb").predict([["a man plays", "a man is playing"]])
    assert set(score) == {"score"} and isinstance(score["score"], float)

    export_folder(tiny_model_dir, tmp_path / "sst2", "sst2")
    (label,) = ExportedModel(tmp_path / "sst2").predict([["a gripping film"]])
    assert label["label"] in ("0", "1")
    assert sum(label["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_question_answering_answers_from_the_context_however_long(tiny_model_dir, tmp_path):
    export_folder(tiny_model_dir, tmp_path / "squad", "squad", **{
        "qa.max_seq_length": 64, "qa.max_question_length": 16, "qa.doc_stride": 16})
    model = ExportedModel(tmp_path / "squad")
    context = "the treaty was signed in 1648 in the city of osnabrueck. " * 4  # several windows
    (answer,) = model.predict([["when was it signed?", context]])
    assert answer["answer"] and answer["answer"] in context
    with pytest.raises(PipelineError, match="question is 40 tokens; this model takes at most 16"):
        model.predict([["w" * 40, context]])


def test_read_examples_keeps_every_line_and_splits_on_tabs(tmp_path):
    path = tmp_path / "in.tsv"
    path.write_text("première phrase\tdeuxième\nsolo\n", encoding="utf-8")
    assert read_examples(path) == [["première phrase", "deuxième"], ["solo"]]
