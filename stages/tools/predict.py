"""Run an exported model on your own text (not a DVC stage).

    python -m stages.tools.predict models/export/qat "a gripping, beautifully shot film"
    python -m stages.tools.predict models/export/qat "first sentence" "second sentence"   # pairs
    python -m stages.tools.predict models/export/qat --file inputs.tsv   # one example per line,
                                                                    # its texts tab-separated
Prints one JSON object per example: the label and its probabilities (classification), the
score (regression) or the answer (question answering: give the question, then the context).
"""
import argparse
import json

from stages.lib.core.errors import PipelineError
from stages.lib.core.runner import run_stage
from stages.lib.reporting.serving import ExportedModel, read_examples


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m stages.tools.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="an export folder, e.g. models/export/qat")
    parser.add_argument("texts", nargs="*", help="one example: its text(s) in field order")
    parser.add_argument("--file", help="many examples: one per line, texts tab-separated")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    return parser.parse_intermixed_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.file and args.texts:
        raise PipelineError("give the texts on the command line or --file, not both")
    examples = read_examples(args.file) if args.file else ([args.texts] if args.texts else [])
    model = ExportedModel(args.model, args.threads)
    for texts, prediction in zip(examples, model.predict(examples)):
        print(json.dumps({"input": texts, **prediction}, ensure_ascii=False))


if __name__ == "__main__":
    run_stage(main)
