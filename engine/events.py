"""The typed events a training run emits, and their JSON-lines form in `events.jsonl`.

Every event has `type`, `step` and `time` (seconds since the epoch). The trainer yields them;
the CLI, the dashboard, `watch` and the tests all consume the same objects, live or read back
from a run directory.
"""

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class Event:
    step: int
    time: float = field(default_factory=time.time, kw_only=True)
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=True)


@dataclass
class StartEvent(Event):
    """The run (re)started; everything a watcher needs to label it."""

    run: str
    config: dict[str, dict[str, Any]]
    vocab_size: int
    vocab: str
    params: dict[str, int]
    device: str
    data: str
    max_steps: int
    resumed: bool = False
    pid: int = 0
    world_size: int = 1
    """Processes training together (torchrun's WORLD_SIZE); `pid` is rank 0's."""
    type: ClassVar[str] = "start"


@dataclass
class StepEvent(Event):
    loss: float
    lr: float
    tokens_per_s: float
    eta_s: float = 0.0
    type: ClassVar[str] = "step"


@dataclass
class EvalEvent(Event):
    train_loss: float
    val_loss: float
    type: ClassVar[str] = "eval"


@dataclass
class SampleEvent(Event):
    text: str
    prompt: str = ""
    type: ClassVar[str] = "sample"


@dataclass
class CheckpointEvent(Event):
    path: str
    type: ClassVar[str] = "checkpoint"


@dataclass
class PausedEvent(Event):
    type: ClassVar[str] = "paused"


@dataclass
class ResumedEvent(Event):
    type: ClassVar[str] = "resumed"


@dataclass
class WarningEvent(Event):
    message: str
    type: ClassVar[str] = "warning"


@dataclass
class DoneEvent(Event):
    """The run ended on purpose: `completed` all its steps or was `stopped` by request."""

    reason: str = "completed"
    train_loss: float | None = None
    val_loss: float | None = None
    type: ClassVar[str] = "done"


@dataclass
class FailedEvent(Event):
    message: str
    type: ClassVar[str] = "failed"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        StartEvent,
        StepEvent,
        EvalEvent,
        SampleEvent,
        CheckpointEvent,
        PausedEvent,
        ResumedEvent,
        WarningEvent,
        DoneEvent,
        FailedEvent,
    )
}


def event_from_dict(data: Any) -> Event | None:
    """The event a decoded JSON line describes, or None if it is not one we know.

    Keys we do not know are ignored so that newer writers stay readable; a missing field or
    a field of the wrong kind makes the line unreadable rather than crashing the reader.
    """
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        return None
    known = {f.name for f in fields(cls)}
    try:
        event = cls(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None
    if not isinstance(event.step, int) or not isinstance(event.time, (int, float)):
        return None
    return event


class EventWriter:
    """Appends events to a JSON-lines file, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "a+b")
        self._mend_torn_line()

    def _mend_torn_line(self) -> None:
        """A writer killed mid-line leaves a torn last line; start ours on a fresh one."""
        end = self._file.seek(0, 2)
        if end:
            self._file.seek(end - 1)
            if self._file.read(1) != b"\n":
                self._file.write(b"\n")

    def write(self, event: Event) -> None:
        self._file.write(event.to_json().encode("utf-8") + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class EventFollower:
    """Reads the events appended to a file since the last call, like `tail -f`.

    It keeps a torn last line until its newline arrives, skips lines that are not events
    (counting them in `skipped`), and starts over when the file shrinks or is replaced.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.pending = b""
        self.skipped = 0

    def read_new(self) -> list[Event]:
        try:
            with open(self.path, "rb") as f:
                stat = os.fstat(f.fileno())
                if stat.st_ino != self.inode or stat.st_size < self.offset:
                    self.inode, self.offset, self.pending = stat.st_ino, 0, b""
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []

        self.offset += len(chunk)
        lines = (self.pending + chunk).split(b"\n")
        self.pending = lines.pop()
        return [e for e in map(self._parse, lines) if e is not None]

    def _parse(self, line: bytes) -> Event | None:
        if not line.strip():
            return None
        try:
            event = event_from_dict(json.loads(line))
        except (ValueError, UnicodeDecodeError, RecursionError):
            event = None
        if event is None:
            self.skipped += 1
        return event


def read_events(path: Path) -> list[Event]:
    """Every readable event in a file, in order."""
    return EventFollower(path).read_new()
