"""A trainer killed with SIGKILL at random moments never loses its run.

The short variant here kills it a few times; `python -m bench.faults` runs the long one
(20+ kills) whose counts the README reports.
"""

import random
import time

import pytest

from engine.checkpoint import load_checkpoint
from engine.run_dir import RunDir
from tests.faults.trainer_process import (
    TINY_SET,
    CheckpointEvent,
    StepEvent,
    kill_hard,
    start_trainer,
    wait_for,
)


def kill_and_resume(run: RunDir, kills: int, rng: random.Random) -> list[int]:
    """Kill the run's trainer `kills` times at random moments; the saved step after each."""
    saved = []
    for n in range(kills):
        args = ["--resume", str(run.path)] if n else ["--out", str(run.path), "--steps", "100000"]
        args += [f"--set={s}" for s in TINY_SET] if not n else []
        proc = start_trainer(args)
        wait_for(run.events, CheckpointEvent, saved[-1] if saved else 0, proc)
        # Checkpoints are written every step, so a random moment often lands mid-save.
        time.sleep(rng.uniform(0.0, 0.3))
        kill_hard(proc)
        state = load_checkpoint(run.checkpoint)
        saved.append(int(state["step"]))
    return saved


def test_sigkill_never_corrupts_the_checkpoint_and_resume_continues(tmp_path):
    run = RunDir(tmp_path / "run")
    saved = kill_and_resume(run, kills=3, rng=random.Random(7))

    assert saved == sorted(saved) and saved[-1] > 0

    # a last resume runs a few more steps and finishes cleanly
    final = start_trainer(["--resume", str(run.path), "--steps", str(saved[-1] + 3)])
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert load_checkpoint(run.checkpoint)["step"] == saved[-1] + 3
    assert not list(run.path.glob(".checkpoint.pt.*.tmp"))
    assert wait_for(run.events, StepEvent, after=saved[-1]) == saved[-1] + 3


@pytest.mark.slow
def test_twenty_five_sigkills_in_a_row(tmp_path):
    """The long variant: `pytest -m slow tests/faults` (about two minutes)."""
    run = RunDir(tmp_path / "run")
    saved = kill_and_resume(run, kills=25, rng=random.Random(2026))

    assert len(saved) == 25 and saved == sorted(saved)
    assert load_checkpoint(run.checkpoint)["step"] == saved[-1]
