"""Listing run directories with what a person choosing one wants to see.

A run's state comes from two sources: the events after its last start (paused, done, failed)
and whether a live trainer holds its lock (RunDir.trainer_pid). A run whose trainer is gone
without writing `done` or `failed` died (killed, out of memory, power cut): it is `failed`.

events.jsonl can hold a hundred thousand step lines, so a summary decodes only the lines that
are not step events (found by their fixed prefix) plus the last event; a line that merely looks
like a step is never needed for the state, the best loss or the preset.
"""

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from data.errors import MinigptError
from engine.events import (
    DoneEvent,
    EvalEvent,
    Event,
    FailedEvent,
    PausedEvent,
    ResumedEvent,
    StartEvent,
    event_from_dict,
)
from engine.run_dir import RunDir

log = logging.getLogger(__name__)

STATES = ("starting", "running", "paused", "stopped", "done", "failed")

# How long a run directory with no events and no trainer counts as starting: a trainer needs a
# few seconds to import torch and take the lock after its directory is created.
STARTING_GRACE_S = 60.0

# EventWriter writes `{"type": "step", ...}` (json.dumps puts `type` first, with this spacing).
_STEP_PREFIX = b'{"type": "step", '


@dataclass(frozen=True)
class RunSummary:
    """One run directory at a glance: where it is, what it is doing, how far it got."""

    path: Path
    name: str
    state: str
    """One of STATES."""
    step: int
    """The step of the run's last event (0 before the first)."""
    max_steps: int | None
    """The steps the run was started for, when known."""
    best_val_loss: float | None
    """The lowest validation loss of any evaluation, over every resume."""
    updated: float
    """Seconds since the epoch of the last event, or of the newest file if there is none."""
    preset: str | None
    pid: int | None
    """The live trainer's pid (-1 if the lock holds none), or None when no trainer runs."""
    has_checkpoint: bool

    @property
    def alive(self) -> bool:
        return self.pid is not None

    def age(self, now: float | None = None) -> float:
        """Seconds since the run last wrote an event."""
        return max(0.0, (time.time() if now is None else now) - self.updated)


def list_runs(root: Path) -> list[RunSummary]:
    """Every run directory directly under root, the most recently active first.

    Folders that are not run directories, and runs that cannot be read, are left out (the
    latter with a logged warning); a missing root is an empty list.
    """
    try:
        candidates = [p for p in root.expanduser().iterdir() if p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    summaries = []
    for path in candidates:
        run = RunDir(path)
        if not run.config.is_file() and not run.events.is_file():
            continue
        try:
            summaries.append(summarize_run(path))
        except OSError as exc:
            log.warning("%s: cannot read the run (%s)", path, exc.strerror or exc)
    return sorted(summaries, key=lambda s: (s.updated, s.name), reverse=True)


def summarize_run(path: Path) -> RunSummary:
    """The summary of one run directory (which must exist)."""
    run = RunDir(path)
    # the lock before the events: a trainer that ends in between has written its end event
    pid = run.trainer_pid()
    scan = _scan_events(run.events)
    updated = scan.last.time if scan.last else _newest_mtime(run)
    start = scan.start
    preset, max_steps = _from_config(run) if start is None else _from_start(start)
    return RunSummary(
        path=path,
        name=run.name,
        state=_state(scan, pid, updated),
        step=scan.last.step if scan.last else 0,
        max_steps=max_steps,
        best_val_loss=scan.best_val_loss,
        updated=updated,
        preset=preset,
        pid=pid,
        has_checkpoint=run.checkpoint.is_file(),
    )


def format_age(seconds: float) -> str:
    """A short age such as `12s`, `5m`, `3h` or `2d`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


@dataclass
class _Scan:
    start: StartEvent | None = None
    since_start: list[Event] = field(default_factory=list)  # non-step events after the start
    last: Event | None = None
    best_val_loss: float | None = None


def _scan_events(path: Path) -> _Scan:
    scan = _Scan()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return scan
    # a torn last line (a writer mid-line, or killed) is not an event yet
    lines = data[: data.rfind(b"\n") + 1].split(b"\n")

    for line in lines:
        if line.startswith(_STEP_PREFIX) or not line.strip():
            continue
        event = _parse(line)
        if isinstance(event, StartEvent):
            scan.start, scan.since_start = event, []
        elif event is not None:
            scan.since_start.append(event)
        if isinstance(event, EvalEvent) and event.val_loss == event.val_loss:  # skip NaN
            best = scan.best_val_loss
            scan.best_val_loss = event.val_loss if best is None else min(best, event.val_loss)

    for line in reversed(lines):
        scan.last = _parse(line) if line.strip() else None
        if scan.last is not None:
            break
    return scan


def _parse(line: bytes) -> Event | None:
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _state(scan: _Scan, pid: int | None, updated: float) -> str:
    """The run's state from the events after its last start and the trainer's liveness."""
    start, events = scan.start, scan.since_start
    # a live trainer other than the one that wrote the last start is resuming the run
    # (pid -1: the lock names no pid; start pid 0: the writer did not record one)
    if pid is not None and (start is None or (pid != -1 and start.pid not in (0, pid))):
        return "starting"

    ended = next((e for e in reversed(events) if isinstance(e, (DoneEvent, FailedEvent))), None)
    if isinstance(ended, FailedEvent):
        return "failed"
    if isinstance(ended, DoneEvent):
        return "done" if ended.reason == "completed" else "stopped"
    if pid is None:
        # no trainer: either one is about to take the lock, or it died before ending the run
        young = start is None and time.time() - updated < STARTING_GRACE_S
        return "starting" if young else "failed"
    pauses = [e for e in events if isinstance(e, (PausedEvent, ResumedEvent))]
    return "paused" if pauses and isinstance(pauses[-1], PausedEvent) else "running"


def _from_start(start: StartEvent) -> tuple[str | None, int | None]:
    train = start.config.get("train") if isinstance(start.config, dict) else None
    preset = train.get("preset") if isinstance(train, dict) else None
    return (preset if isinstance(preset, str) else None), start.max_steps


def _from_config(run: RunDir) -> tuple[str | None, int | None]:
    """Preset and steps from config.toml, for a run that has not started yet."""
    if not run.config.is_file():
        return None, None
    try:
        settings = run.read_config()
    except (MinigptError, OSError) as exc:
        # a bad config costs the listing two columns, not the run's line
        log.debug("%s: unreadable config (%s)", run.config, exc)
        return None, None
    return settings.train.preset, settings.train.steps


def _newest_mtime(run: RunDir) -> float:
    times = [0.0]  # the folder may vanish while it is listed
    for path in (run.events, run.config, run.checkpoint, run.path):
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            continue
    return max(times)
