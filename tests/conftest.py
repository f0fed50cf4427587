"""Shared fixtures: every test gets its own config and data folders, and a tiny corpus."""

from pathlib import Path

import pytest
import torch

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"

TINY_TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\n"
    "All:\nResolved. resolved.\n\n"
) * 40


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point platformdirs at tmp_path so nobody's own settings or runs change a result."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    torch.set_num_threads(1)
    return tmp_path


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    """A small text file, long enough for a short run with a small context."""
    path = tmp_path / "tiny.txt"
    path.write_text(TINY_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def shakespeare() -> Path:
    """The classic tiny-shakespeare file from ../shared, or a skip that says why."""
    if not SHARED_CORPUS.is_file():
        pytest.skip(f"needs {SHARED_CORPUS} (the shared tiny-shakespeare corpus), not present")
    return SHARED_CORPUS


TINY_OVERRIDES = {
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 16},
    "train": {
        "steps": 30,
        "batch_size": 4,
        "eval_interval": 10,
        "eval_batches": 2,
        "checkpoint_interval": 10,
        "warmup_steps": 5,
        "device": "cpu",
    },
    "sample": {"length": 20, "prompt": "All:\n"},
}


@pytest.fixture
def tiny_settings(tiny_corpus: Path):
    """Settings for a seconds-long run on the tiny corpus."""
    from engine.settings import merge_layers, resolve

    layer = merge_layers(TINY_OVERRIDES, {"train": {"data": str(tiny_corpus)}})
    return resolve({}, layer)


@pytest.fixture
def finished_run(tmp_path: Path, tiny_settings):
    """A run directory whose tiny run has trained to the end (30 steps, checkpointed)."""
    from engine.control import Control
    from engine.runner import make_trainer, new_run_dir, stream_events

    run = new_run_dir(tiny_settings, tmp_path / "run")
    with run.hold_lock():
        list(stream_events(run, make_trainer(tiny_settings, run, Control(), resume=False)))
    return run
