"""The dashboard with a real trainer child process: controls, crashes, attaching, quitting."""

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from engine import paths
from engine.events import DoneEvent, StepEvent, read_events
from engine.run_dir import RunDir
from engine.settings import merge_layers, resolve
from tests.conftest import TINY_OVERRIDES
from tests.tui.conftest import wait_until
from tui.app import DashboardApp
from tui.event_log import EventLog
from tui.generation_screen import GenerationScreen
from tui.quit_modal import QuitModal
from tui.settings_screen import SettingsScreen
from tui.stop_modal import StopModal
from tui.trainer_process import Launch, TrainerProcess, setting_arguments


@pytest.fixture(autouse=True)
def one_thread_children(monkeypatch):
    """Trainer children inherit the environment: one thread each on a shared machine."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def settings_for(tiny_corpus):
    """Tiny settings with `steps` steps; long runs evaluate rarely so that steps are quick."""

    def make(steps: int):
        layer = merge_layers(TINY_OVERRIDES, {"train": {"data": str(tiny_corpus), "steps": steps}})
        if steps > 100:
            layer = merge_layers(
                layer, {"train": {"eval_interval": 10_000, "checkpoint_interval": 10_000}}
            )
        return resolve({}, layer)

    return make


@pytest.fixture
def reaper():
    """Processes a test started; any still alive at the end are killed."""
    started: list[int] = []
    yield started
    for pid in started:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def running(app: DashboardApp, past: int = 2):
    return lambda: (
        app.state is not None
        and app.state.state == "running"
        and app.state.alive
        and app.state.step > past
    )


async def child_started(pilot, app: DashboardApp, reaper: list[int]) -> TrainerProcess:
    """The dashboard's trainer child, once it exists; the reaper kills it after the test."""
    await wait_until(pilot, lambda: app.session is not None, what="the child")
    reaper.append(app.session.process.pid)
    return app.session.process


async def test_a_whole_tiny_run_fills_every_panel(settings_for, reaper):
    app = DashboardApp(launch=Launch(settings=settings_for(30)), poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await child_started(pilot, app, reaper)
        await wait_until(pilot, lambda: app.state.state == "done", timeout=90, what="done")
        assert app.state.step == 30 and len(app.state.evals) == 3
        assert len(app.state.samples) == 3 and app.state.samples[-1].prompt == "All:\n"
        assert app.checkpoint_step == 30 and app.model_path.is_file()
        assert "completed at step 30" in app.training_screen.query_one(EventLog).text()
        assert app.session.process.popen.wait(timeout=30) == 0
        run = app.session.run

    # `minigpt-tui --resume RUN --steps 40` on the finished run continues it
    resumed = DashboardApp(
        launch=Launch(resume=run.path, overrides={"train": {"steps": 40}}), poll_s=0.05
    )
    async with resumed.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: resumed.session is not None, what="the child")
        reaper.append(resumed.session.process.pid)
        await wait_until(
            pilot,
            lambda: resumed.state.step == 40 and resumed.state.ended,
            timeout=90,
            what="the resumed run to finish",
        )
        assert resumed.state.state == "done" and resumed.state.steps == list(range(1, 41))
        assert resumed.run_dir == run.path


async def test_pause_resume_and_stop_drive_the_real_trainer(settings_for, reaper):
    app = DashboardApp(launch=Launch(settings=settings_for(100_000)), poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        process = await child_started(pilot, app, reaper)
        await wait_until(pilot, running(app), timeout=90, what="steps")

        await pilot.press("p")
        await wait_until(pilot, lambda: app.state.state == "paused", what="paused")
        held = app.state.step
        await pilot.pause(0.5)
        assert app.state.step == held

        await pilot.press("p")
        await wait_until(pilot, running(app, past=held), what="resumed steps")

        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, StopModal)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.state.state == "stopped", what="stopped")
        assert process.popen.wait(timeout=30) == 0
        assert app.session.run.trainer_pid() is None
        assert app.state.checkpoint_step == app.state.step  # saved on stop


async def test_a_killed_trainer_shows_as_failed_and_the_app_keeps_working(settings_for, reaper):
    app = DashboardApp(launch=Launch(settings=settings_for(100_000)), poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await child_started(pilot, app, reaper)
        await wait_until(pilot, running(app), timeout=90, what="steps")

        os.kill(app.session.process.pid, signal.SIGKILL)
        await wait_until(pilot, lambda: app.state.state == "failed", what="failed")
        assert "killed by SIGKILL" in app.state.failure
        assert (
            f"failed at step {app.state.step:,}" in app.training_screen.query_one(EventLog).text()
        )

        await pilot.press("g")
        assert isinstance(app.screen, GenerationScreen)
        await pilot.press("t", "n")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen) and app.screen.new_run
        failed_run = app.run_dir
        await pilot.press("ctrl+r")  # a new run from the failed one's settings
        await wait_until(pilot, lambda: app.run_dir != failed_run, what="a new run")
        reaper.append(app.session.process.pid)
        await wait_until(pilot, running(app), timeout=90, what="the new run's steps")
        assert app.state.max_steps == 100_000  # the failed run's own settings, not a preset's
        assert app.state.start.config["model"]["n_embd"] == 32
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("s")
        await wait_until(pilot, lambda: app._exit, what="the app to exit")
    assert app.session.process.poll() is not None


def start_headless(settings, out) -> subprocess.Popen:
    """`minigpt-tui train` started outside any dashboard, in its own session."""
    args = [
        sys.executable,
        "-P",
        "-m",
        "cli",
        "train",
        "--quiet",
        "--out",
        str(out),
        *setting_arguments(settings.to_dict()),
    ]
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def test_attaching_to_a_running_run_then_quitting_with_stop(settings_for, reaper):
    settings = settings_for(100_000)
    headless = start_headless(settings, paths.runs_dir() / "earlier")
    reaper.append(headless.pid)
    run = RunDir(paths.runs_dir() / "earlier")
    while not any(isinstance(e, StepEvent) for e in read_events(run.events)):
        assert headless.poll() is None, "the headless trainer ended early"
        await asyncio.sleep(0.1)

    app = DashboardApp(launch=Launch(settings=settings), offer_attach=True, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await wait_until(pilot, running(app), what="the attached run")
        assert app.run_dir == run.path and app.session.process is None
        assert [p.name for p in paths.runs_dir().iterdir()] == ["earlier"]  # no second run

        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitModal)
        await pilot.press("s")
        await wait_until(pilot, lambda: app._exit, what="the app to exit")
    assert headless.wait(timeout=30) == 0
    last = read_events(run.events)[-1]
    assert isinstance(last, DoneEvent) and last.reason == "stopped"  # saved, then stopped
    assert run.trainer_pid() is None


async def test_leaving_a_run_training_then_attaching_with_all_controls(settings_for, reaper):
    app = DashboardApp(launch=Launch(settings=settings_for(100_000)), poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        process = await child_started(pilot, app, reaper)
        await wait_until(pilot, running(app), timeout=90, what="steps")
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
    assert process.poll() is None  # still training after the dashboard has gone
    run = process.run

    again = DashboardApp(run_dir=run.path, poll_s=0.05)  # what `--resume RUN` does on a live run
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, running(again), what="the attached run")
        await pilot.press("e")
        await wait_until(
            pilot,
            lambda: any(e.step > 0 for e in again.state.evals),
            what="an evaluation on request",
        )
        await pilot.press("s", "s")
        await wait_until(pilot, lambda: again.state.state == "stopped", what="stopped")
    assert process.popen.wait(timeout=30) is not None and run.trainer_pid() is None
