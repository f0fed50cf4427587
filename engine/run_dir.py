"""The run directory: the contract between a trainer and everyone who follows it.

events.jsonl   one JSON event per line (engine.events)
checkpoint.pt  model, optimizer, step, settings, vocabulary, RNG states (engine.checkpoint)
config.toml    the run's resolved settings
control.jsonl  requests to the trainer (engine.control)
trainer.lock   held with flock by the live trainer; its pid inside
trainer.log    the trainer's own output when a dashboard started it
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import tomli_w

from data.errors import RunError
from engine.atomic import atomic_write_bytes
from engine.settings import Settings, check_layer, read_layer, resolve


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def config(self) -> Path:
        return self.path / "config.toml"

    @property
    def control(self) -> Path:
        return self.path / "control.jsonl"

    @property
    def lock(self) -> Path:
        return self.path / "trainer.lock"

    @property
    def log(self) -> Path:
        return self.path / "trainer.log"

    @classmethod
    def create(cls, root: Path, preset: str) -> "RunDir":
        """A new, empty run directory named after the time and the preset."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        root.mkdir(parents=True, exist_ok=True)
        for n in range(100):
            path = root / f"{stamp}-{preset}" if n == 0 else root / f"{stamp}-{preset}-{n}"
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise RunError(f"{root}: could not find a free run directory name")

    @classmethod
    def open(cls, path: Path) -> "RunDir":
        """An existing run directory; a RunError says what is missing otherwise."""
        path = path.expanduser()
        if not path.is_dir():
            raise RunError(f"{path}: no such run directory")
        run = cls(path)
        if not run.config.is_file() and not run.events.is_file():
            raise RunError(f"{path}: not a run directory (no config.toml or events.jsonl)")
        return run

    def write_config(self, settings: Settings) -> None:
        atomic_write_bytes(self.config, tomli_w.dumps(settings.to_dict()).encode("utf-8"))

    def read_config(self) -> Settings:
        """The run's resolved settings from config.toml."""
        layer = check_layer(read_layer(self.config), str(self.config))
        return resolve(layer, {}, str(self.config))

    def trainer_pid(self) -> int | None:
        """The pid of the live trainer, or None when no process holds the lock."""
        try:
            fd = os.open(self.lock, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = self.lock.read_text().strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None

    @contextmanager
    def hold_lock(self) -> Iterator[None]:
        """Mark this process as the run's trainer for as long as the block runs.

        flock is released by the kernel when the process dies, even by SIGKILL, so a stale
        lock file never makes a dead run look alive.
        """
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(f"{self.path}: a trainer is already running this run") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)
