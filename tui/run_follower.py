"""Following one run directory: its new events, and whether its trainer is still alive.

A trainer that dies without writing `done` or `failed` (SIGKILL, out of memory) is noticed
through its lock: the kernel releases a flock when its holder dies. Plain Python, called over
and over from the dashboard's thread worker.
"""

from dataclasses import dataclass, field

from engine.events import DoneEvent, Event, EventFollower, FailedEvent, StartEvent
from engine.run_dir import RunDir
from tui.trainer_process import TrainerProcess, describe_exit, log_tail


@dataclass
class FollowUpdate:
    """What changed since the last poll."""

    events: list[Event] = field(default_factory=list)
    alive: bool = False
    pid: int | None = None
    gone: str | None = None
    """Set once when the trainer ended without a final event: why, as far as is known."""


class RunFollower:
    """Polls a run directory; with `process`, the trainer is that child of ours."""

    def __init__(self, run: RunDir, process: TrainerProcess | None = None) -> None:
        self.run = run
        self.process = process
        self.events = EventFollower(run.events)
        self.started = False
        self.finished = False
        self.seen_alive = False
        self.reported_gone = False
        # with a child, only events after the child's own start event describe it
        self.ours = process is None

    def poll(self) -> FollowUpdate:
        events = self._read()
        pid = self.run.trainer_pid()
        exit_code = self.process.poll() if self.process else None
        alive = pid is not None and exit_code is None
        if alive:
            self.seen_alive, self.reported_gone = True, False

        if self.process is not None:
            ended = exit_code is not None
        else:
            ended = not alive and (self.seen_alive or self.started)
        gone = None
        if ended and not self.reported_gone:
            self.reported_gone = True
            events += self._read()  # whatever it wrote just before it exited
            if not self.finished:
                gone = self._why_gone(exit_code)
        return FollowUpdate(events, alive, pid if alive else None, gone)

    def _read(self) -> list[Event]:
        events = self.events.read_new()
        for event in events:
            if isinstance(event, StartEvent):
                self.started, self.finished = True, False
                self.ours = self.process is None or event.pid == self.process.pid
            elif isinstance(event, (DoneEvent, FailedEvent)) and self.ours:
                self.finished = True
        return events

    def _why_gone(self, exit_code: int | None) -> str:
        if exit_code is None:
            why = "the trainer stopped without finishing the run (killed or crashed)"
        else:
            why = describe_exit(exit_code)
        tail = log_tail(self.run)
        return f"{why}; trainer.log ends: {tail}" if tail else why
