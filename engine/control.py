"""Requests to a running trainer: pause, resume, stop, checkpoint now, evaluate now.

In one process they are queued in memory; across processes they are JSON lines appended to
`control.jsonl` in the run directory, which the trainer reads between steps. Appending (rather
than overwriting one file) means two quick requests are never merged into one.
"""

import json
import threading
import time
from pathlib import Path

COMMANDS = ("pause", "resume", "stop", "checkpoint", "eval")


class Control:
    """A thread-safe queue of requests that the trainer drains between steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[str] = []

    def request(self, command: str) -> None:
        if command not in COMMANDS:
            raise ValueError(f"unknown trainer command {command!r}")
        with self._lock:
            self._queue.append(command)

    def take(self) -> list[str]:
        """Every request made since the last call, oldest first."""
        with self._lock:
            queued, self._queue = self._queue, []
        return queued


class FileControl(Control):
    """A Control that also picks up requests appended to a run's `control.jsonl`.

    Requests already in the file when the trainer starts are ignored: they were meant for an
    earlier trainer of the same run.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._offset = path.stat().st_size if path.exists() else 0

    def take(self) -> list[str]:
        return self._read_file() + super().take()

    def _read_file(self) -> list[str]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size <= self._offset:
            self._offset = min(self._offset, size)
            return []

        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read(size - self._offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        return [c for c in map(_parse_command, complete.splitlines()) if c]


def _parse_command(line: bytes) -> str | None:
    try:
        command = json.loads(line).get("command")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return command if command in COMMANDS else None


def send_command(path: Path, command: str) -> None:
    """Ask the trainer of a run directory to do something; it acts within one step."""
    if command not in COMMANDS:
        raise ValueError(f"unknown trainer command {command!r}")
    line = json.dumps({"command": command, "time": time.time()}) + "\n"
    with open(path, "ab") as f:
        f.write(line.encode())
