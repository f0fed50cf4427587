"""`minigpt-tui` (the dashboard) refuses bad input before the screen changes: one line, exit 2."""

import pytest

from cli.main import main
from engine import paths
from engine.run_dir import RunDir
from engine.settings import resolve
from tests.tui.conftest import training_events, write_events


def refused(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minigpt-tui: error: ")
    assert not paths.runs_dir().exists()  # nothing half-made
    return err


def test_missing_data_is_refused(capsys, tmp_path):
    assert "missing.txt: no such file" in refused(capsys, "--data", str(tmp_path / "missing.txt"))


def test_inconsistent_settings_are_refused(capsys):
    assert "not divisible by model.n_head = 3" in refused(capsys, "--set", "model.n_head=3")


def test_resume_needs_a_run_with_a_checkpoint(capsys, tmp_path):
    assert "no such run directory" in refused(capsys, "--resume", str(tmp_path / "nope"))
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config(resolve({}, {}))
    write_events(run, training_events(steps=3))
    assert "no checkpoint to resume from" in refused(capsys, "--resume", str(run.path))
    run.checkpoint.write_bytes(b"")
    err = refused(capsys, "--resume", str(run.path), "--set", "model.n_layer=2")
    assert "cannot change model.n_layer" in err


def test_a_live_run_cannot_change_its_settings(capsys, tmp_path):
    run = RunDir(tmp_path / "live")
    run.path.mkdir()
    write_events(run, training_events(steps=3))
    with run.hold_lock():
        err = refused(capsys, "--resume", str(run.path), "--set", "train.lr=0.01")
    assert "is training now" in err


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--preset", "huge"]])
def test_bad_options_are_refused_by_the_parser(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("minigpt-tui: error: ")
