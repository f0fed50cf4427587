"""A full disk during a save costs that save only: a warning, and the previous checkpoint."""

from engine.checkpoint import load_checkpoint
from engine.control import Control
from engine.events import CheckpointEvent, DoneEvent, WarningEvent, read_events
from engine.runner import make_trainer, new_run_dir, stream_events
from tests.faults.tiny_filesystem import tiny_filesystem

# The tiny model's checkpoint is about 250 kB: the first fits, but the second cannot be
# written beside it before the rename, so every save after the first meets a full disk.
FS_KB = 400


def test_full_disk_warns_and_keeps_the_previous_checkpoint(tmp_path, tiny_settings):
    with tiny_filesystem(tmp_path / "disk", FS_KB) as disk:
        run = new_run_dir(tiny_settings, disk / "run")
        with run.hold_lock():
            trainer = make_trainer(tiny_settings, run, Control(), resume=False)
            events = list(stream_events(run, trainer))

        saved = [e.step for e in events if isinstance(e, CheckpointEvent)]
        warnings = [e for e in events if isinstance(e, WarningEvent)]
        assert saved == [10]
        assert warnings and "No space left on device" in warnings[0].message
        assert "still holds step 10" in warnings[0].message
        assert isinstance(events[-1], DoneEvent)
        assert load_checkpoint(run.checkpoint)["step"] == 10
        assert not list(run.path.glob(".checkpoint.pt.*.tmp"))
        assert [type(e) for e in read_events(run.events)] == [type(e) for e in events]


async def test_the_dashboard_shows_the_failed_save_and_stays_usable(tmp_path, tiny_settings):
    from tests.tui.conftest import wait_until
    from tui.app import DashboardApp
    from tui.event_log import EventLog

    with tiny_filesystem(tmp_path / "disk", FS_KB) as disk:
        run = new_run_dir(tiny_settings, disk / "run")
        with run.hold_lock():
            list(stream_events(run, make_trainer(tiny_settings, run, Control(), resume=False)))

        app = DashboardApp(run_dir=run.path, read_only=True, poll_s=0.05)
        async with app.run_test(size=(100, 30)) as pilot:
            log = app.training_screen.query_one(EventLog)
            await wait_until(
                pilot,
                lambda: "No space left on device" in log.text(),
                what="the failed save in the event log",
            )
            await pilot.press("g")
            await pilot.pause()
            await pilot.press("t")
            await pilot.pause()
            assert app.screen is app.training_screen and app.state.state == "done"
