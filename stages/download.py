"""Stage 1: fetch the task data and the base model, once, into plain local files.

Outputs: data/prepared/ (one JSONL per split + task.json) and models/base/ (tokenizer and
pretrained encoder). Later stages never touch the network.
"""
from pathlib import Path

from stages.lib import data
from stages.lib.errors import run_stage
from stages.lib.modeling import model_source, snapshot_base_model
from stages.lib.outputs import atomic_dir
from stages.lib.params import load_params
from stages.lib.tasks import get_task

DATA_DIR, BASE_MODEL_DIR = Path("data/prepared"), Path("models/base")


def load_raw_splits(task, params: dict) -> dict:
    source = params["data"]["source"]
    options = {**params["data"], **params["xnli"]}  # which files, articles and languages
    if source == "packaged":
        return data.load_packaged(task)
    if source == "hub":
        return data.load_hub(task, options)
    return data.load_local(task, params["data"]["dir"], options)


def main():
    params = load_params()
    task, data_params = get_task(params["task"]), params["data"]
    model_source(params["model"]["name"])  # refuse an unknown model before fetching any data

    splits = data.prepare(load_raw_splits(task, params), task,
                          data_params["max_train_samples"], data_params["max_eval_samples"])
    # Both folders land together, or neither does.
    with atomic_dir(DATA_DIR) as data_scratch, atomic_dir(BASE_MODEL_DIR) as model_scratch:
        data.write_prepared(splits, task, data_params["source"], data_scratch)
        source = snapshot_base_model(params["model"]["name"], model_scratch,
                                     params["model"]["trust_remote_code"])
    print(f"{task.name} from {data_params['source']}: "
          + ", ".join(f"{split} {len(frame)}" for split, frame in splits.items()))
    print(f"base model {params['model']['name']} ({source}) saved to {BASE_MODEL_DIR}")


if __name__ == "__main__":
    run_stage(main, timed=True)
