"""Checkpoints: a plain dict that weights_only loading accepts, written so a crash loses nothing."""

import copy
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data.corpus import load_corpus
from data.errors import CheckpointError
from engine import checkpoint
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]


def state_at(step: int) -> dict:
    return {
        "model": {"w": torch.full((256,), float(step))},
        "step": step,
        "settings": {"model": {}},
        "vocab": "ab",
    }


def test_a_trained_checkpoint_holds_the_whole_run_and_loads_with_weights_only(
    tmp_path, tiny_settings
):
    trainer = Trainer(
        tiny_settings,
        load_corpus(tiny_settings.train.data, tmp_path),
        checkpoint_path=tmp_path / "c.pt",
    )
    list(trainer.run())
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert {"model", "optimizer", "step", "settings", "vocab", "rng", "best_val_loss"} <= set(state)
    assert set(state["rng"]) == {"torch", "batches"}
    assert state["optimizer"]["state"] and state["step"] == 30


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state_at(1))

    def save_half_then_fail(obj, f, *args, **kwargs) -> None:
        f.write(b"PK\x03\x04 the first bytes of a zip archive")
        raise RuntimeError("simulated failure while serialising")

    monkeypatch.setattr(checkpoint.torch, "save", save_half_then_fail)
    with pytest.raises(RuntimeError, match="simulated"):
        save_checkpoint(path, state_at(2))
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_a_save_whose_write_fails_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state_at(1))

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, state_at(2))
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


KILLED_WHILE_SAVING = """
import os, signal, sys
from pathlib import Path
import torch
from engine.checkpoint import save_checkpoint

# the process dies after the new bytes are on disk and just before the rename
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
save_checkpoint(Path(sys.argv[1]), {"model": {"w": torch.zeros(4096)}, "step": 2,
                                    "settings": {"model": {}}, "vocab": "ab"})
"""


def test_a_process_killed_in_the_middle_of_saving_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, state_at(1))
    child = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_SAVING, str(path)],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "checkpoint.pt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".checkpoint.pt.")
    assert load_checkpoint(path)["step"] == 1

    save_checkpoint(path, state_at(3))  # the next save clears what the dead writer left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert load_checkpoint(path)["step"] == 3


def test_a_checkpoint_of_another_model_shape_is_refused_naming_the_file(tmp_path, tiny_settings):
    corpus = load_corpus(tiny_settings.train.data, tmp_path)
    path = tmp_path / "c.pt"
    save_checkpoint(path, Trainer(tiny_settings, corpus).state_dict())

    wider = copy.deepcopy(tiny_settings)
    wider.model.n_embd = 64
    with pytest.raises(CheckpointError) as err:
        Trainer(wider, corpus, checkpoint_path=path, resume_state=load_checkpoint(path))
    message = str(err.value)
    assert message.startswith(f"{path}: does not fit this model") and "\n" not in message
