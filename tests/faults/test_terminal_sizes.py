"""Tiny terminals and resizes mid-run never crash the dashboard or the generation pane."""

from engine.events import StepEvent
from engine.run_dir import RunDir
from engine.settings import resolve
from tests.tui.conftest import T0, start_event, wait_until, write_events
from tui.app import DashboardApp
from tui.status_line import StatusLine


def live_run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "live")
    run.path.mkdir()
    run.write_config(resolve({}, {"model": {"n_layer": 2}, "train": {"steps": 200}}))
    write_events(run, [start_event(max_steps=200)])
    return run


async def test_40x12_and_resizes_while_events_stream(tmp_path):
    run = live_run(tmp_path)
    app = DashboardApp(run_dir=run.path, read_only=True, clock=lambda: T0 + 60, poll_s=0.05)
    async with app.run_test(size=(40, 12)) as pilot:
        await wait_until(pilot, lambda: app.state is not None, what="the run's start")

        sizes = [(40, 12), (120, 40), (20, 6), (80, 24), (40, 12)]
        for n, size in enumerate(sizes, start=1):
            write_events(
                run,
                [StepEvent(n * 10, loss=3.0 - n * 0.1, lr=1e-3, tokens_per_s=9000.0, time=T0 + n)],
            )
            await pilot.resize_terminal(*size)
            await wait_until(pilot, lambda s=n * 10: app.state.step == s, what=f"step {n * 10}")

        for key in ("question_mark", "escape", "g", "t", "l"):
            await pilot.press(key)
            await pilot.pause()
        assert app.screen is app.training_screen
        assert "step 50/200" in str(app.training_screen.query_one(StatusLine).render())
