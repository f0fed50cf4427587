"""The real `minigpt-tui` in a real terminal (tmux): train, pause, resume, quit with stop.

Each test runs its own tmux server (-L), so the dashboard gets this test's environment and
nobody else's sessions are touched.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_OVERRIDES

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="needs tmux to run the dashboard in a real terminal"
)

BIN = Path(sys.executable).parent / "minigpt-tui"
STEP = re.compile(r"step ([\d,]+)/100,000")


class Terminal:
    """A tmux server of our own with one 100x30 window."""

    def __init__(self, tmp_path: Path) -> None:
        self.socket = f"minigpt-test-{os.getpid()}-{tmp_path.name}"[:60]
        self.tmp_path = tmp_path

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30
        ).stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def wait_for(self, predicate, what: str, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the screen shows:\n{self.screen()}")

    def kill(self) -> None:
        self.tmux("kill-server")

    def remove(self) -> None:
        """Kill the server and remove its socket file, which tmux leaves behind."""
        self.kill()
        folder = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (folder / self.socket).unlink(missing_ok=True)


def step_on(text: str) -> int:
    match = STEP.search(text)
    return int(match.group(1).replace(",", "")) if match else -1


def processes_mentioning(text: str) -> list[int]:
    """Python processes (trainers, dashboards) whose command line mentions text."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_text().split("\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if argv and "python" in Path(argv[0]).name and text in " ".join(argv):
            pids.append(int(proc.name))
    return [p for p in pids if p != os.getpid()]


@pytest.fixture
def dashboard(tmp_path, tiny_corpus):
    """A shell command that runs `minigpt-tui` on the tiny corpus, writing its status to rc."""
    if not BIN.exists():
        pytest.skip(f"{BIN} is not installed (pip install -e .)")
    sets = [
        f"--set {s}.{k}={v}"
        for s, values in TINY_OVERRIDES.items()
        for k, v in values.items()
        if k not in ("steps", "prompt")
    ]
    env = (
        f"XDG_CONFIG_HOME={tmp_path}/config XDG_DATA_HOME={tmp_path}/data "
        "OMP_NUM_THREADS=1 TEXTUAL_ANIMATIONS=none"
    )
    command = (
        f"env {env} {BIN} --data {tiny_corpus} --steps 100000 {' '.join(sets)} "
        f"--set train.eval_interval=5000; echo EXIT=$? > {tmp_path}/rc"
    )
    terminal = Terminal(tmp_path)
    yield terminal, command
    terminal.remove()
    for pid in processes_mentioning(str(tmp_path)):
        os.kill(pid, 9)


def test_train_pause_resume_and_quit_with_stop_leaves_nothing_behind(dashboard, tmp_path):
    terminal, command = dashboard
    terminal.start(command)
    first = step_on(terminal.wait_for(lambda t: step_on(t) > 0, "steps"))
    terminal.wait_for(lambda t: step_on(t) > first, "steps to advance")

    terminal.keys("p")
    paused = terminal.wait_for(lambda t: " paused " in t, "paused")
    time.sleep(1.0)
    assert step_on(terminal.screen()) == step_on(paused)

    terminal.keys("p")
    terminal.wait_for(lambda t: " running " in t and step_on(t) > step_on(paused), "resumed")

    terminal.keys("q")
    terminal.wait_for(lambda t: "is still training" in t, "the quit dialog")
    terminal.keys("s")
    deadline = time.monotonic() + 60
    while not (tmp_path / "rc").exists():
        assert time.monotonic() < deadline, terminal.screen()
        time.sleep(0.2)
    assert (tmp_path / "rc").read_text().strip() == "EXIT=0"
    assert processes_mentioning(str(tmp_path)) == []  # no trainer, no dashboard


def test_closing_the_terminal_leaves_the_run_training_and_it_can_be_attached(dashboard, tmp_path):
    terminal, command = dashboard
    terminal.start(command)
    terminal.wait_for(lambda t: step_on(t) > 0, "steps")
    trainers = processes_mentioning(f"{tmp_path}/data")
    assert len(trainers) == 1

    terminal.kill()  # the terminal goes away: SIGHUP to the dashboard
    events = next((tmp_path / "data").rglob("events.jsonl"))
    size = events.stat().st_size
    time.sleep(1.5)
    assert processes_mentioning(f"{tmp_path}/data") == trainers
    assert events.stat().st_size > size  # still training

    terminal.start(command)
    terminal.wait_for(lambda t: "is still training" in t, "the offer to attach")
    terminal.keys("a")
    terminal.wait_for(lambda t: " running " in t and step_on(t) > 0, "the attached run")
    terminal.keys("q")
    terminal.wait_for(lambda t: "Stop it and save" in t, "the quit dialog")
    terminal.keys("s")
    deadline = time.monotonic() + 60
    while not (tmp_path / "rc").exists():
        assert time.monotonic() < deadline, terminal.screen()
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path)) == []  # no trainer, no dashboard
    assert len(list((tmp_path / "data").rglob("events.jsonl"))) == 1  # one run, not two
