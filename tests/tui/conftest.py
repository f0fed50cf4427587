"""Run directories written event by event, so that panels can be checked against known data."""

import gc
import math
from pathlib import Path

import pytest

from engine.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    Event,
    EventWriter,
    SampleEvent,
    StartEvent,
    StepEvent,
)
from engine.run_dir import RunDir
from engine.settings import resolve

T0 = 1_700_000_000.0


@pytest.fixture(autouse=True)
def unfrozen_heap():
    """Hand what an app froze (tui.heap) back to the collector after each test.

    One process runs many apps here, and a finished app's reference cycles must not pile up.
    """
    yield
    gc.unfreeze()


VOCAB = "\n !',-.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PARAMS = {
    "embeddings": 16_640,
    "block0.attention": 66_048,
    "block0.feed_forward": 131_712,
    "block0.norms": 512,
    "block1.attention": 66_048,
    "block1.feed_forward": 131_712,
    "block1.norms": 512,
    "final_norm": 256,
    "head": 8_385,
}
PARAMS["total"] = sum(PARAMS.values())


def start_event(
    name: str = "fixed-run",
    max_steps: int = 200,
    step: int = 0,
    resumed: bool = False,
    pid: int = 0,
) -> StartEvent:
    settings = resolve({}, {"model": {"n_layer": 2}, "train": {"steps": max_steps}})
    return StartEvent(
        step,
        run=name,
        config=settings.to_dict(),
        vocab_size=len(VOCAB),
        vocab=VOCAB,
        params=PARAMS,
        device="cpu",
        data="built-in Shakespeare",
        max_steps=max_steps,
        resumed=resumed,
        pid=pid,
        time=T0 + step,
    )


def training_events(steps: int = 120, max_steps: int = 200, every: int = 40) -> list[Event]:
    """A run's events up to `steps`: a smooth falling loss, evals, samples, checkpoints."""
    events: list[Event] = [start_event(max_steps=max_steps)]
    for step in range(1, steps + 1):
        loss = 1.5 + 2.7 * math.exp(-step / 40) + 0.08 * math.sin(step * 1.7)
        events.append(
            StepEvent(
                step,
                loss=loss,
                lr=1e-3 * min(1.0, step / 20),
                tokens_per_s=12_000.0,
                eta_s=(max_steps - step) * 0.05,
                time=T0 + step,
            )
        )
        if step % every == 0:
            events.append(
                EvalEvent(step, train_loss=loss - 0.05, val_loss=loss + 0.05, time=T0 + step)
            )
            events.append(
                SampleEvent(
                    step,
                    text=f"ROMEO:\nsample text at step {step}",
                    prompt="ROMEO:\n",
                    time=T0 + step,
                )
            )
            events.append(CheckpointEvent(step, path="checkpoint.pt", time=T0 + step))
    return events


def write_events(run: RunDir, events: list[Event]) -> None:
    writer = EventWriter(run.events)
    for event in events:
        writer.write(event)
    writer.close()


@pytest.fixture
def fixed_run(tmp_path: Path) -> RunDir:
    """A finished run directory: 200 steps with evaluations every 40."""
    run = RunDir(tmp_path / "fixed-run")
    run.path.mkdir()
    run.write_config(resolve({}, {"model": {"n_layer": 2}, "train": {"steps": 200}}))
    events = training_events(steps=200)
    events.append(DoneEvent(200, reason="completed", train_loss=1.52, val_loss=1.61, time=T0 + 200))
    write_events(run, events)
    return run


async def wait_until(pilot, predicate, timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until predicate() holds; fail with `what` after timeout seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)
