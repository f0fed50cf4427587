"""`minigpt-tui runs`: an aligned table of the runs in the data directory."""

from cli.main import main
from engine import paths
from engine.events import DoneEvent, EvalEvent, EventWriter, StartEvent
from engine.run_dir import RunDir


def _finished_run(name: str, val_loss: float, when: float) -> None:
    run = RunDir(paths.runs_dir() / name)
    run.path.mkdir(parents=True)
    writer = EventWriter(run.events)
    writer.write(
        StartEvent(
            0,
            run=name,
            config={"train": {"preset": "tutorial"}},
            vocab_size=3,
            vocab="abc",
            params={"total": 1},
            device="cpu",
            data="d",
            max_steps=500,
            time=when - 10,
        )
    )
    writer.write(EvalEvent(500, train_loss=1.0, val_loss=val_loss, time=when - 1))
    writer.write(DoneEvent(500, time=when))
    writer.close()


def test_runs_prints_an_aligned_table_newest_first(capsys):
    _finished_run("20240101-120000-tutorial", 1.8765, 1_700_000_000.0)
    _finished_run("20240102-120000-tutorial", 1.5, 1_700_100_000.0)

    assert main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "STEP", "BEST", "VAL", "AGE", "PRESET"]
    assert lines[1].split()[:4] == ["20240102-120000-tutorial", "done", "500/500", "1.5000"]
    assert lines[2].split()[:4] == ["20240101-120000-tutorial", "done", "500/500", "1.8765"]
    assert lines[1].index("done") == lines[0].index("STATE")
    assert lines[-1] == f"2 runs in {paths.runs_dir()}"


def test_runs_without_any_run_says_so(capsys):
    assert main(["runs"]) == 0
    assert capsys.readouterr().out == f"no runs in {paths.runs_dir()}\n"


def test_runs_in_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["runs", "--dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err == f"minigpt-tui: error: {tmp_path / 'nowhere'}: no such folder\n"
