"""Snapshots of the generation pane: a fixed tiny model, the default seed, fixed keys."""

from tests.tui.test_generation_screen import PaneApp, loaded, settings_file, tiny_checkpoint


def test_generation_pane_after_steps_and_a_pick_100x30(snap_compare, tmp_path):
    settings_file('[sample]\nprompt = "All:\\n"\nseed = 5\n')
    app = PaneApp(tiny_checkpoint(tmp_path / "tiny.pt"))
    assert snap_compare(
        app,
        terminal_size=(100, 30),
        run_before=loaded,
        press=["space", "space", "space", "2", "space", "space"],
    )


def test_generation_pane_past_the_context_80x24(snap_compare, tmp_path):
    settings_file('[sample]\nprompt = "All:\\nYou are all"\ntop_k = 5\n')
    app = PaneApp(tiny_checkpoint(tmp_path / "tiny.pt"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded, press=["space"] * 8)
