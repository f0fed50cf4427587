"""Snapshots of the training screen at fixed sizes, from fixed events, with a frozen clock."""

from engine.events import FailedEvent, PausedEvent
from engine.run_dir import RunDir
from tests.tui.conftest import T0, training_events, wait_until, write_events
from tui.app import DashboardApp
from tui.loss_chart import LossChart


def settled(app: DashboardApp, state: str):
    """A run_before that waits for the run's events and the chart's last redraw."""

    async def run_before(pilot) -> None:
        chart = app.training_screen.query_one(LossChart)
        await wait_until(
            pilot,
            lambda: (
                app.state is not None
                and app.state.state == state
                and chart.drawn_points > 0
                and chart._timer is None
            ),
            what=state,
        )
        await pilot.pause()

    return run_before


def test_finished_run_100x30(snap_compare, fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, clock=lambda: T0 + 500, poll_s=0.05)
    assert snap_compare(app, terminal_size=(100, 30), run_before=settled(app, "done"))


def test_paused_run_80x24(snap_compare, tmp_path):
    run = RunDir(tmp_path / "paused-run")
    run.path.mkdir()
    write_events(run, [*training_events(steps=90), PausedEvent(90, time=T0 + 91)])
    app = DashboardApp(run_dir=run.path, clock=lambda: T0 + 100, poll_s=0.05)
    with run.hold_lock():  # a live trainer, as far as the dashboard can tell
        assert snap_compare(app, terminal_size=(80, 24), run_before=settled(app, "paused"))


def test_failed_run_120x40(snap_compare, tmp_path):
    run = RunDir(tmp_path / "failed-run")
    run.path.mkdir()
    write_events(
        run,
        [
            *training_events(steps=150),
            FailedEvent(
                151,
                message="loss became nan at step 151; checkpoint of step 120 kept",
                time=T0 + 151,
            ),
        ],
    )
    app = DashboardApp(run_dir=run.path, clock=lambda: T0 + 200, poll_s=0.05)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settled(app, "failed"))
