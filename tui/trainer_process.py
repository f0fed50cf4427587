"""The headless trainer as a child process of the dashboard, and stopping any run's trainer.

The child runs `minigpt-tui train` in its own session, so a closed terminal or a dropped SSH
connection (SIGHUP to the dashboard's session) does not reach it; its output goes to the run's
trainer.log. Everything else goes through the run directory: events.jsonl out, control.jsonl
in, trainer.lock for liveness. Nothing here imports textual or torch.
"""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from data.corpus import read_text_file
from data.errors import RunError
from engine import paths
from engine.control import send_command
from engine.run_dir import RunDir
from engine.settings import Layer, Settings

# A stop request is honoured between steps and then a checkpoint is written; even the largest
# preset on a CPU does both well inside this.
STOP_TIMEOUT_S = 120.0
POLL_S = 0.05


@dataclass(frozen=True)
class Launch:
    """A trainer for the dashboard to start: a new run from settings, or a run resumed."""

    settings: Settings | None = None
    resume: Path | None = None
    overrides: Layer = field(default_factory=dict)
    """--set values for a resumed run (a new run carries all of its settings)."""


def setting_arguments(layer: Layer) -> list[str]:
    """`--set=section.key=value` for every value in layer, each value written as TOML."""
    args = []
    for section, values in layer.items():
        for key, value in values.items():
            text = tomli_w.dumps({"v": value}).strip().removeprefix("v = ")
            args.append(f"--set={section}.{key}={text}")
    return args


def check_data(settings: Settings) -> None:
    """Refuse unreadable training text here, with the trainer's own message, not in the child."""
    if settings.train.data not in ("", "shakespeare"):
        read_text_file(Path(settings.train.data).expanduser())


class TrainerProcess:
    """A `minigpt-tui train` child writing to one run directory."""

    def __init__(self, run: RunDir, popen: subprocess.Popen) -> None:
        self.run = run
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    @classmethod
    def start(cls, launch: Launch, runs_root: Path | None = None) -> "TrainerProcess":
        """Make (or reopen) the run directory and start its trainer; RunError if it cannot."""
        if launch.resume is not None:
            run = RunDir.open(launch.resume)
            args = ["--resume", str(run.path), *setting_arguments(launch.overrides)]
        elif launch.settings is not None:
            check_data(launch.settings)
            run = RunDir.create(runs_root or paths.runs_dir(), launch.settings.train.preset)
            run.write_config(launch.settings)
            args = ["--out", str(run.path), *setting_arguments(launch.settings.to_dict())]
        else:
            raise RunError("nothing to start: give settings or a run directory to resume")

        # -P keeps the working directory off sys.path, so a folder named `cli` there is ignored
        command = [sys.executable, "-P", "-m", "cli", "train", *args]
        try:
            with open(run.log, "ab") as log:
                popen = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
        except OSError as exc:
            raise RunError(f"{run.path}: cannot start the trainer ({exc.strerror})") from None
        return cls(run, popen)

    def poll(self) -> int | None:
        """The exit status once the child has ended (negative: killed by that signal)."""
        return self.popen.poll()


def describe_exit(code: int) -> str:
    """How a trainer process ended, in words."""
    if code < 0:
        try:
            return f"the trainer was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"the trainer was killed by signal {-code}"
    return f"the trainer exited with status {code}"


def log_tail(run: RunDir, limit: int = 300) -> str:
    """The last non-empty line of the run's trainer.log, where a child's error ends up."""
    try:
        with open(run.log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip()[:limit] if lines else ""


def stop_trainer(
    run: RunDir, process: TrainerProcess | None = None, timeout: float = STOP_TIMEOUT_S
) -> bool:
    """Ask the run's trainer to save and stop, and wait until it has exited.

    After timeout it is killed outright (losing the steps since its last checkpoint) so that
    nothing is left behind; the result says whether it stopped by itself.
    """
    pid = process.pid if process else run.trainer_pid()
    if _gone(run, process, pid):
        return True
    send_command(run.control, "stop")
    if process is not None:
        # A child still importing torch has no signal handler yet and simply ends; after that,
        # SIGTERM asks for the same save-and-stop as the control file.
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(run, process, pid):
            return True
        time.sleep(POLL_S)

    if pid is not None and pid > 0:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process is not None:
        process.popen.wait()
    return False


def _gone(run: RunDir, process: TrainerProcess | None, pid: int | None) -> bool:
    """The trainer has exited: our child has been reaped, or another's has left the table."""
    if process is not None:
        return process.poll() is not None
    if run.trainer_pid() is not None:
        return False
    # the lock goes a moment before the process does; wait for the process itself
    return pid is None or pid <= 0 or not _exists(pid)


def _exists(pid: int) -> bool:
    """Whether pid is a live process (a zombie, dead but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True  # no /proc (macOS): alive as far as we can tell
