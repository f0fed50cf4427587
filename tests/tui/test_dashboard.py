"""The dashboard on run directories written event by event: what each panel shows."""

import tomllib

import pytest
from textual.widgets import Footer, Input, Select, Static

from engine import paths
from engine.events import EvalEvent, FailedEvent, StepEvent
from engine.run_dir import RunDir
from engine.settings import resolve
from tests.tui.conftest import T0, VOCAB, training_events, wait_until, write_events
from tui.app import DashboardApp
from tui.event_log import EventLog
from tui.help_screen import HelpScreen
from tui.loss_chart import LossChart
from tui.model_panel import ModelPanel
from tui.open_modal import OpenModal
from tui.samples_panel import SamplesPanel
from tui.settings_screen import SettingsScreen
from tui.status_line import StatusLine


def text_of(app: DashboardApp, selector: str) -> str:
    return str(app.training_screen.query_one(selector, Static).render())


async def open_run(pilot, app: DashboardApp, state: str = "done") -> None:
    await wait_until(
        pilot,
        lambda: app.state is not None and app.state.state == state,
        what=f"the run to be {state}",
    )
    chart = app.training_screen.query_one(LossChart)
    await wait_until(pilot, lambda: chart.drawn_points > 0, what="the chart")


async def test_a_runs_events_appear_in_every_panel(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, read_only=True, clock=lambda: T0 + 500, poll_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_run(pilot, app)
        status = str(app.training_screen.query_one(StatusLine).render())
        for part in (
            "done",
            "fixed-run",
            "small",
            "cpu",
            "step 200/200",
            "elapsed 3:20",
            "12,000 tok/s",
            "lr 1.0e-03",
            "read-only",
        ):
            assert part in status

        model = text_of(app, "#model-text")
        assert "attention" in model and "feed-forward" in model and "total" in model
        assert "421,825" in model and f"context 64 · vocab {len(VOCAB)}" in model
        assert "62.4%" in model  # feed-forward's share of 421,825

        samples = text_of(app, "#samples-text")
        assert samples.index("step 200 · latest") < samples.index("step 40")
        assert "sample text at step 200" in samples

        log = app.training_screen.query_one(EventLog).text()
        assert "40 eval: train 2.371 · val 2.471 · perplexity 11.84" in log
        assert "checkpoint saved (checkpoint.pt)" in log and "completed at step 200" in log

        chart = app.training_screen.query_one(LossChart)
        assert 0 < chart.drawn_points <= 2 * chart.size.width  # downsampled to the width
        assert f"ln({len(VOCAB)}) = 4.13" in str(chart.border_subtitle)


async def test_events_written_while_watching_appear_live(tmp_path):
    run = RunDir(tmp_path / "live")
    run.path.mkdir()
    write_events(run, training_events(steps=10))
    app = DashboardApp(run_dir=run.path, poll_s=0.05, clock=lambda: T0 + 11)
    with run.hold_lock():  # this test stands in for a live trainer
        async with app.run_test(size=(100, 30)) as pilot:
            await open_run(pilot, app, state="running")
            assert app.state.alive and app.state.step == 10
            write_events(
                run,
                [
                    StepEvent(11, loss=2.0, lr=1e-3, tokens_per_s=1.0),
                    EvalEvent(11, train_loss=1.9, val_loss=2.1),
                ],
            )
            await wait_until(pilot, lambda: app.state.step == 11, what="step 11")
            await wait_until(
                pilot,
                lambda: "perplexity" in app.training_screen.query_one(EventLog).text(),
                what="the evaluation in the log",
            )
            assert "step 11/200" in str(app.training_screen.query_one(StatusLine).render())


async def test_a_quiet_live_run_is_marked_stale(tmp_path):
    run = RunDir(tmp_path / "quiet")
    run.path.mkdir()
    write_events(run, training_events(steps=10))
    app = DashboardApp(run_dir=run.path, poll_s=0.05, clock=lambda: T0 + 10 + 125)
    with run.hold_lock():
        async with app.run_test(size=(100, 30)) as pilot:
            await open_run(pilot, app, state="running")
            await wait_until(pilot, lambda: app.state.alive, what="liveness")
            await pilot.pause(0.1)
            status = str(app.training_screen.query_one(StatusLine).render())
            assert "no events for 2:05" in status


async def test_a_failed_run_shows_its_message_and_step(tmp_path):
    run = RunDir(tmp_path / "broken")
    run.path.mkdir()
    write_events(
        run,
        [
            *training_events(steps=50),
            FailedEvent(51, message="loss became nan at step 51", time=T0 + 51),
        ],
    )
    app = DashboardApp(run_dir=run.path, poll_s=0.05, clock=lambda: T0 + 60)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app, state="failed")
        status = str(app.training_screen.query_one(StatusLine).render())
        assert "failed" in status and "step 51/200" in status
        assert "loss became nan at step 51" in status
        assert "failed at step 51" in app.training_screen.query_one(EventLog).text()


async def test_overfitting_is_flagged_in_the_event_log(tmp_path):
    run = RunDir(tmp_path / "overfit")
    run.path.mkdir()
    events = training_events(steps=10)
    events += [
        EvalEvent(10 + i, train_loss=1.5 - 0.1 * i, val_loss=1.6 + 0.1 * i) for i in range(5)
    ]
    write_events(run, events)
    app = DashboardApp(run_dir=run.path, poll_s=0.05)
    with run.hold_lock():
        async with app.run_test(size=(100, 30)) as pilot:
            await open_run(pilot, app, state="running")
            assert "overfitting" in app.training_screen.query_one(EventLog).text()


async def test_read_only_has_no_training_controls_and_quits_without_asking(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, read_only=True, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app)
        shown = set(app.screen.active_bindings)
        assert not {"p", "s", "c", "e", "n"} & shown
        assert {"o", "question_mark", "q"} <= shown
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_help_explains_the_panels_and_closes(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from tui.help_screen import HELP

        for term in ("perplexity", "validation", "overfitting", "Parameters", "learning rate"):
            assert term.lower() in HELP.lower()
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_g_and_t_switch_between_generation_and_training(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app)
        assert app.model_path == fixed_run.checkpoint and app.run_dir == fixed_run.path
        await pilot.press("g")
        assert app.current_mode == "generation"
        await pilot.press("t")
        assert app.current_mode == "training"


async def test_open_lists_runs_and_follows_the_chosen_one(fixed_run, tmp_path):
    other = RunDir(tmp_path / "runs" / "other-run")
    other.path.mkdir(parents=True)
    write_events(other, training_events(steps=20))
    checkpoint = tmp_path / "some.pt"
    checkpoint.write_bytes(b"not read until the generation pane loads it")
    app = DashboardApp(run_dir=fixed_run.path, runs_root=tmp_path / "runs", poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OpenModal)
        await pilot.press("enter")  # the only run listed
        await wait_until(
            pilot, lambda: app.run_dir == other.path and app.state.step == 20, what="the other run"
        )
        assert app.state.state == "failed"  # no trainer and no final event: it died

        await pilot.press("o", "tab", *str(checkpoint), "enter")
        await pilot.pause()
        assert app.model_path == checkpoint and app.run_dir == other.path


async def test_the_command_palette_offers_every_command(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "Start a new run (settings form)",
            "The generation pane",
            "What each panel shows",
            "Settings",
            "Log scale",
        ):
            assert title in titles


async def test_the_80x24_layout_keeps_everything_that_matters_on_screen(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05, clock=lambda: T0 + 500)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_run(pilot, app)
        screen = app.screen.region
        for widget in (StatusLine, LossChart, EventLog, ModelPanel, SamplesPanel, Footer):
            region = app.training_screen.query_one(widget).region
            assert screen.contains_region(region) and region.height >= 1, widget.__name__
        assert app.training_screen.query_one(LossChart).region.height >= 10
        status = app.training_screen.query_one(StatusLine)
        assert status.region.height == 2 and "step 200/200" in str(status.render())
        # every key fits in the footer
        footer = app.training_screen.query_one(Footer)
        keys = [k for k in footer.query("FooterKey") if k.region.width]
        assert {k.key for k in keys} >= {"p", "s", "c", "e", "n", "o", "g", "question_mark", "q"}
        assert all(k.region.right <= 80 for k in keys)
        # the model panel's numbers are not cut off
        model = app.training_screen.query_one(ModelPanel)
        assert model.max_scroll_y == 0 and model.max_scroll_x == 0


async def test_log_scale_toggles(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_run(pilot, app)
        chart = app.training_screen.query_one(LossChart)
        await pilot.press("l")
        await wait_until(
            pilot, lambda: chart.border_title == "Loss (log scale)", what="the log-scale redraw"
        )
        assert chart.log_scale
        await pilot.press("l")
        assert not chart.log_scale


# --- the settings form -------------------------------------------------------------------


async def open_settings(pilot, app: DashboardApp) -> SettingsScreen:
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(app.screen, SettingsScreen)
    return app.screen


async def set_field(pilot, screen: SettingsScreen, widget_id: str, text: str) -> None:
    field = screen.query_one(f"#{widget_id}", Input)
    field.value = text
    await pilot.pause()


async def test_the_new_run_form_starts_from_the_runs_own_settings(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_settings(pilot, app)
        await pilot.pause()
        assert screen.query_one("#model-n_layer", Input).value == "2"  # not the preset's 4
        assert screen.query_one("#train-steps", Input).value == "200"


async def test_settings_refuse_invalid_values_with_the_reason(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_settings(pilot, app)
        await set_field(pilot, screen, "model-n_head", "3")
        error = str(screen.query_one("#error-model-n_embd", Static).render())
        assert "128 is not divisible by model.n_head = 3" in error
        assert screen.query_one("#row-model-n_embd").has_class("-invalid")

        await set_field(pilot, screen, "model-n_head", "4")
        await set_field(pilot, screen, "train-lr", "fast")
        assert "'fast' is not a number" in str(screen.query_one("#settings-status").render())
        await pilot.press("ctrl+s")
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert not paths.settings_path().exists()  # refused: nothing written
        assert isinstance(app.screen, SettingsScreen)  # and no run started
        assert app.run_dir == fixed_run.path


async def test_settings_save_writes_only_what_differs_and_keeps_the_theme(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")  # the palette's Settings command: the plain form
        await pilot.pause()
        await pilot.press(*"Settings")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen) and not screen.new_run
        await set_field(pilot, screen, "train-lr", "0.002")
        await set_field(pilot, screen, "sample-prompt", "JULIET:\\n")
        screen.query_one("#ui-theme", Select).value = "nord"
        await pilot.pause()
        assert app.theme == "nord"  # previewed at once
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = tomllib.loads(paths.settings_path().read_text())
        assert saved == {
            "train": {"lr": 0.002},
            "sample": {"prompt": "JULIET:\n"},
            "ui": {"theme": "nord"},
        }
        assert not isinstance(app.screen, SettingsScreen)

    again = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert again.theme == "nord"


async def test_cancelling_the_form_restores_the_theme(fixed_run):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_settings(pilot, app)
        screen.query_one("#ui-theme", Select).value = "nord"
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.theme == "textual-dark" and not paths.settings_path().exists()


@pytest.mark.parametrize("preset", ["tutorial"])
async def test_choosing_a_preset_shows_its_model(fixed_run, preset):
    app = DashboardApp(run_dir=fixed_run.path, poll_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_settings(pilot, app)
        screen.query_one("#train-preset", Select).value = preset
        await pilot.pause()
        expected = resolve({}, {"train": {"preset": preset}})
        assert screen.query_one("#model-n_layer", Input).value == str(expected.model.n_layer)
        assert screen.query_one("#train-steps", Input).value == str(expected.train.steps)
