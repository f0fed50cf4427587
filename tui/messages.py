"""Messages from worker threads: the run follower's to the app, the loader's to the pane.

Events themselves travel in the session's buffer, not in messages, so that a burst can be
announced by one `EventsReady` that replaces any still queued (nothing is lost: the handler
drains the whole buffer). Each message names its session, so that messages about a run the
dashboard has stopped following are recognised and dropped.
"""

import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message

from engine.events import Event
from engine.loading import LoadedModel
from engine.run_dir import RunDir
from tui.trainer_process import TrainerProcess


@dataclass(eq=False)
class FollowSession:
    """One period of following one run directory."""

    run: RunDir
    process: TrainerProcess | None = None
    buffer: deque[list[Event]] = field(default_factory=deque)
    stop: threading.Event = field(default_factory=threading.Event)

    def drain(self) -> list[Event]:
        """Every event the worker has read and the app has not yet taken, in order."""
        events: list[Event] = []
        while self.buffer:
            events.extend(self.buffer.popleft())
        return events


class EventsReady(Message):
    """New events wait in the session's buffer."""

    def __init__(self, session: FollowSession) -> None:
        super().__init__()
        self.session = session

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsReady) and message.session is self.session


class TrainerStatus(Message):
    """Whether the run's trainer is alive; sent about once a second, so clocks move too."""

    def __init__(self, session: FollowSession, alive: bool, pid: int | None) -> None:
        super().__init__()
        self.session = session
        self.alive = alive
        self.pid = pid

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainerStatus) and message.session is self.session


class TrainerGone(Message):
    """The trainer ended without a final event: it crashed or was killed."""

    def __init__(self, session: FollowSession, reason: str) -> None:
        super().__init__()
        self.session = session
        self.reason = reason


class ModelLoaded(Message):
    """A checkpoint finished loading; role is "main" or "compare"."""

    def __init__(self, role: str, loaded: LoadedModel) -> None:
        super().__init__()
        self.role = role
        self.loaded = loaded


class ModelLoadFailed(Message):
    """A checkpoint could not be loaded; message names the file and the problem."""

    def __init__(self, role: str, path: Path, message: str) -> None:
        super().__init__()
        self.role = role
        self.path = path
        self.message = message
