"""`minigpt-tui watch`: refuses what cannot be watched; follows a live run read-only."""

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import main
from cli.watch import check_watchable, dashboard_for
from engine.control import Control
from engine.events import CheckpointEvent, DoneEvent, EventWriter, StartEvent, StepEvent
from engine.run_dir import RunDir
from engine.runner import make_trainer, new_run_dir, stream_events

REPO = Path(__file__).resolve().parents[2]


def _run_with(tmp_path: Path, tiny_settings, events: list | None) -> RunDir:
    run = new_run_dir(tiny_settings, tmp_path / "run")
    if events is not None:
        writer = EventWriter(run.events)
        for event in events:
            writer.write(event)
        writer.close()
    return run


def _start() -> StartEvent:
    return StartEvent(
        0,
        run="run",
        config={},
        vocab_size=1,
        vocab="a",
        params={"total": 1},
        device="cpu",
        data="d",
        max_steps=30,
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such run directory"),
        ("plain folder", "not a run directory"),
        ("no events", "no events.jsonl and no trainer running it"),
        ("empty events", "an empty events.jsonl and no trainer running it"),
        ("no checkpoint", "no checkpoint.pt and no trainer running it"),
    ],
)
def test_what_cannot_be_watched_is_a_one_line_error(tmp_path, tiny_settings, capsys, case, message):
    path = tmp_path / "run"
    if case == "plain folder":
        path.mkdir()
    elif case == "no events":
        _run_with(tmp_path, tiny_settings, None)
    elif case == "empty events":
        _run_with(tmp_path, tiny_settings, None).events.write_bytes(b"\n  \n")
    elif case == "no checkpoint":
        _run_with(tmp_path, tiny_settings, [_start(), DoneEvent(0, reason="stopped")])

    assert main(["watch", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"minigpt-tui: error: {path}") and message in err


def test_a_live_run_without_events_or_checkpoint_can_be_watched(tmp_path, tiny_settings, capsys):
    run = _run_with(tmp_path, tiny_settings, None)
    with run.hold_lock():
        assert check_watchable(run.path) == run
    assert "no checkpoint yet" in capsys.readouterr().err


async def _until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the dashboard did not catch up in time"
        await pilot.pause(0.05)


async def test_watch_follows_a_run_as_it_trains_without_controlling_it(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    with run.hold_lock():
        events = stream_events(run, make_trainer(tiny_settings, run, Control(), False))
        while not isinstance(next(events), CheckpointEvent):  # step 10's checkpoint
            pass

        app = dashboard_for(check_watchable(run.path))
        async with app.run_test(size=(110, 34)) as pilot:
            assert app.read_only
            await _until(pilot, lambda: app.state is not None and app.state.step == 10)

            # the trainer goes on in this process; the dashboard sees the file grow
            steps = [e.step for e in events if isinstance(e, StepEvent)]
            await _until(pilot, lambda: app.state.state == "done")
            assert app.state.step == steps[-1] == 30

            # training keys do nothing read-only: no request reaches the trainer
            for key in ("p", "s", "c", "e", "n"):
                await pilot.press(key)
            assert not run.control.exists()
            assert len(app.screen_stack) == 1

            # the generation pane works on the run's latest checkpoint
            await pilot.press("g")
            assert app.current_mode == "generation"
            assert app.model_path == run.checkpoint
            await pilot.press("t")
            await pilot.press("q")
        assert app.return_code in (0, None)


@pytest.mark.skipif(
    subprocess.run(["which", "tmux"], capture_output=True).returncode != 0,
    reason="needs tmux for the end-to-end terminal test",
)
def test_watch_in_a_real_terminal_shows_the_run_and_quits(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    with run.hold_lock():
        for _ in stream_events(run, make_trainer(tiny_settings, run, Control(), False)):
            pass

    socket = f"minigpt-watch-test-{os.getpid()}"
    rc_file = tmp_path / "rc"
    env = " ".join(
        f"{k}={shlex.quote(os.environ[k])}"
        for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "PATH")
        if k in os.environ
    )
    command = (
        f"cd {shlex.quote(str(REPO))} && env {env} {shlex.quote(sys.executable)} -m cli "
        f"watch {shlex.quote(str(run.path))}; echo $? > {shlex.quote(str(rc_file))}"
    )
    tmux = ["tmux", "-L", socket]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "w", "-x", "110", "-y", "34", command], check=True
    )
    try:
        screen = ""
        deadline = time.monotonic() + 60
        while "step 30/30 · read-only" not in screen:
            assert time.monotonic() < deadline, f"watch never showed the run:\n{screen}"
            time.sleep(0.5)
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "w"], capture_output=True, text=True
            ).stdout
        assert "done" in screen and run.name in screen
        subprocess.run([*tmux, "send-keys", "-t", "w", "q"], check=True)
        deadline = time.monotonic() + 20
        while not rc_file.exists():
            assert time.monotonic() < deadline, "watch did not quit on q"
            time.sleep(0.2)
        assert rc_file.read_text().strip() == "0"
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
