"""A run directory that turns read-only mid-run costs the saves, never the old checkpoint."""

import subprocess

import pytest

from engine.checkpoint import load_checkpoint
from engine.control import Control
from engine.events import CheckpointEvent, DoneEvent, WarningEvent
from engine.runner import make_trainer, new_run_dir


def set_immutable(path, on: bool) -> None:
    """chattr +i: even root cannot create or rename files in the folder (ext4, xfs, btrfs)."""
    done = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr is not available for {path}: {done.stderr.decode().strip()}")


def test_saves_into_a_read_only_folder_warn_and_training_finishes(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    trainer = make_trainer(tiny_settings, run, Control(), resume=False)
    events = []
    try:
        for event in trainer.run():
            events.append(event)
            if isinstance(event, CheckpointEvent):
                set_immutable(run.path, True)
    finally:
        set_immutable(run.path, False)

    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [10]
    warnings = [e.message for e in events if isinstance(e, WarningEvent)]
    assert len(warnings) == 2 and all("Operation not permitted" in w for w in warnings)
    assert isinstance(events[-1], DoneEvent)
    assert load_checkpoint(run.checkpoint)["step"] == 10
