"""The run directory contract that the README documents, checked on the files a run writes.

Every consumer (the dashboard, `watch`, `runs`, scripts) reads these files rather than
the trainer's objects, so the test reads raw JSON and TOML, not engine classes.
"""

import json
import math
import re
import tomllib
from pathlib import Path

import torch

from engine.control import Control
from engine.events import CheckpointEvent
from engine.runner import make_trainer, new_run_dir, stream_events

README = Path(__file__).resolve().parents[2] / "README.md"

# The fields each event type promises (issue 2, "The run directory").
CONTRACT = {
    "start": {"config", "vocab_size", "params", "device"},
    "step": {"loss", "lr", "tokens_per_s"},
    "eval": {"train_loss", "val_loss"},
    "sample": {"text"},
    "checkpoint": {"path"},
    "done": set(),
    "failed": {"message"},
}
CHECKPOINT_KEYS = {"model", "optimizer", "step", "settings", "vocab", "rng", "best_val_loss"}


def raw_events(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_every_event_line_carries_its_documented_fields(finished_run, tiny_settings):
    events = raw_events(finished_run.events)
    assert [e["type"] for e in events][:2] == ["start", "step"] and events[-1]["type"] == "done"
    assert {e["type"] for e in events} == set(CONTRACT) - {"failed"}
    for event in events:
        assert isinstance(event["step"], int) and isinstance(event["time"], float)
        assert CONTRACT[event["type"]] <= set(event), event["type"]

    start = events[0]
    assert start["config"] == tiny_settings.to_dict()
    assert start["vocab_size"] == len(start["vocab"]) and start["device"] == "cpu"
    params = start["params"]
    assert params["total"] == sum(v for k, v in params.items() if k != "total")
    assert {"embeddings", "block0.attention", "block0.feed_forward", "block0.norms", "head"} <= set(
        params
    )
    steps = [e for e in events if e["type"] == "step"]
    assert all(math.isfinite(e["loss"]) and e["lr"] > 0 and e["tokens_per_s"] > 0 for e in steps)
    checkpoints = [e for e in events if e["type"] == "checkpoint"]
    assert {e["path"] for e in checkpoints} == {str(finished_run.checkpoint)}


def test_a_failed_run_ends_with_a_failed_line_carrying_a_message(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    trainer = make_trainer(tiny_settings, run, Control(), resume=False)
    for event in stream_events(run, trainer):
        if isinstance(event, CheckpointEvent):
            with torch.no_grad():
                trainer.model.lm_head.bias.fill_(math.inf)
    last = raw_events(run.events)[-1]
    assert last["type"] == "failed" and last["step"] == 11 and "step 11" in last["message"]


def test_config_toml_holds_the_resolved_settings(finished_run, tiny_settings):
    with open(finished_run.config, "rb") as f:
        assert tomllib.load(f) == tiny_settings.to_dict()
    assert finished_run.read_config() == tiny_settings


def test_checkpoint_pt_holds_the_whole_state_and_loads_with_weights_only(
    finished_run, tiny_settings
):
    state = torch.load(finished_run.checkpoint, weights_only=True)
    assert CHECKPOINT_KEYS <= set(state)
    assert state["step"] == 30 and state["settings"] == tiny_settings.to_dict()
    assert isinstance(state["vocab"], str) and set(state["rng"]) >= {"torch", "batches"}


def test_the_readme_documents_the_contract():
    text = README.read_text(encoding="utf-8") if README.is_file() else ""
    match = re.search(r"^#+ [^\n]*run director[^\n]*$(.*?)(?=^#+ |\Z)", text, re.I | re.M | re.S)
    assert match is not None, "README.md has no run-directory section"
    section = match.group(1)
    for name in (
        "events.jsonl",
        "checkpoint.pt",
        "config.toml",
        *CONTRACT,
        *set().union(*CONTRACT.values()),
    ):
        assert name in section, f"the README's run-directory section does not mention {name}"
