"""Starting and killing real `minigpt-tui train` processes, for the fault-injection tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.events import CheckpointEvent, StepEvent, read_events

TINY_SET = [
    "model.n_layer=1",
    "model.n_head=2",
    "model.n_embd=32",
    "model.block_size=16",
    "train.batch_size=4",
    "train.eval_interval=50",
    "train.eval_batches=2",
    "train.checkpoint_interval=1",
    "train.warmup_steps=5",
    "train.device=cpu",
    "sample.length=10",
    "sample.prompt=A",
]


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", "train", "--quiet", *args]


def start_trainer(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """A trainer in its own session, as the dashboard starts it."""
    return subprocess.Popen(
        train_command(*args),
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for(
    events: Path,
    kind: type,
    after: int = 0,
    proc: subprocess.Popen | None = None,
    timeout: float = 180.0,
) -> int:
    """Wait until events holds a `kind` event past step `after`; return its step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = [e.step for e in read_events(events) if isinstance(e, kind) and e.step > after]
        if steps:
            return steps[-1]
        if proc is not None and proc.poll() is not None:
            err = proc.communicate()[1].decode()
            raise RuntimeError(f"trainer exited with {proc.returncode}: {err}")
        time.sleep(0.05)
    raise TimeoutError(f"no {kind.__name__} after step {after} in {events}")


def kill_hard(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)


__all__ = ["CheckpointEvent", "StepEvent", "TINY_SET", "kill_hard", "start_trainer", "wait_for"]
