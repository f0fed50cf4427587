"""Broken, foreign and malicious checkpoints are refused with the file's name."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from data.errors import CheckpointError, DataError
from engine.checkpoint import load_checkpoint
from engine.control import Control
from engine.loading import load_model
from engine.runner import make_trainer
from engine.settings import merge, validate


def test_truncated_checkpoint(finished_run, tmp_path):
    broken = tmp_path / "truncated.pt"
    broken.write_bytes(finished_run.checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_checkpoint(broken)


def test_random_bytes(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)


class RunsCode:
    """A pickle payload that would create a file if it were ever unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": 1, "model": RunsCode(marker)}, evil, pickle_protocol=2)
    with pytest.raises(CheckpointError, match="evil.pt: refused: it would load ") as err:
        load_checkpoint(evil)
    assert not marker.exists()
    assert "weights_only" not in str(err.value)  # no hint to switch the safety off

    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(CheckpointError, match="plain.pkl: not a checkpoint"):
        load_checkpoint(plain)
    assert not marker.exists()


def test_a_text_file_is_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("garbage\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"notes.pt: not a checkpoint \(torch.save writes"):
        load_checkpoint(text)


def test_checkpoint_of_another_vocabulary_cannot_resume(finished_run, tiny_settings, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("zzzz qqqq xxxx\n" * 400, encoding="utf-8")
    settings = validate(merge(tiny_settings.to_dict(), {"train": {"data": str(other)}}), "test")
    with pytest.raises(DataError, match="not in the model's vocabulary"):
        make_trainer(settings, finished_run, Control(), resume=True)


def test_checkpoint_of_another_shape_is_refused(finished_run, tiny_settings):
    wider = validate(merge(tiny_settings.to_dict(), {"model": {"n_embd": 64}}), "test")
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        make_trainer(wider, finished_run, Control(), resume=True)


def test_checkpoint_whose_weights_do_not_match_its_config(finished_run, tmp_path):
    state = load_checkpoint(finished_run.checkpoint)
    state["settings"]["model"]["n_layer"] = 3
    forged = tmp_path / "forged.pt"
    torch.save(state, forged)
    with pytest.raises(CheckpointError, match="forged.pt"):
        load_model(forged)
