"""`minigpt-tui train` and friends as a user runs them: exit codes, one-line errors, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import paths
from engine.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--set=model.n_layer=1",
    "--set=model.n_head=2",
    "--set=model.n_embd=32",
    "--set=model.block_size=16",
    "--set=train.batch_size=4",
    "--set=train.eval_interval=10",
    "--set=train.eval_batches=2",
    "--set=train.checkpoint_interval=10",
    "--set=train.warmup_steps=5",
    "--set=train.device=cpu",
    "--set=sample.length=20",
]


def env() -> dict[str, str]:
    """This test's environment (its own XDG folders) with one torch thread."""
    # on a busy two-core machine a second torch thread mostly waits for a core
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("minigpt-tui") and ": error: " in lines[0]
    for needle in needles:
        assert needle in lines[0]


def test_help_and_version():
    result = cli("--help")
    assert result.returncode == 0
    for command in ("train", "settings", "corpus"):
        assert command in result.stdout
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("minigpt-tui ")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--set", "nonsense"], ["expected section.key=value"]),
        (["--set", "train.lr=-1"], ["train.lr = -1.0: must be above 0"]),
        (["--set", "model.n_head=3"], ["128 is not divisible by model.n_head = 3"]),
        (["--set", "optimizer.lr=1"], ["unknown section [optimizer]"]),
        (["--steps", "0"], ["argument --steps", "0 must be at least 1"]),
        (["--preset", "huge"], ["invalid choice: 'huge'"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args, needles, tmp_path):
    assert_one_line_error(cli("train", "--out", str(tmp_path / "run"), *args), *needles)
    assert not (tmp_path / "run").exists() and not paths.runs_dir().exists()


@pytest.mark.parametrize("kind", ["missing", "too short"])
def test_bad_data_is_one_line_naming_the_file_and_leaves_no_run(kind, tmp_path):
    data = tmp_path / "corpus.txt"
    if kind == "too short":
        data.write_text("To be, or not to be.", encoding="utf-8")
    result = cli("train", "--data", str(data), *TINY)
    assert_one_line_error(result, str(data), "no such file" if kind == "missing" else "too short")
    assert not paths.runs_dir().exists() or not any(paths.runs_dir().iterdir())


def test_resuming_something_that_is_not_a_run_is_one_line(tmp_path):
    assert_one_line_error(
        cli("train", "--resume", str(tmp_path / "nowhere")), "no such run directory"
    )
    assert_one_line_error(cli("train", "--resume", str(tmp_path)), "not a run directory")
    assert_one_line_error(
        cli("train", "--resume", str(tmp_path), "--out", str(tmp_path / "x")),
        "cannot be used together",
    )


def test_a_bad_settings_file_stops_every_command_and_is_left_as_it_was(tiny_corpus):
    path = paths.settings_path()
    path.parent.mkdir(parents=True)
    text = "[train]\nsteps = 'many'  # a string\n"
    path.write_text(text, encoding="utf-8")
    assert_one_line_error(cli("settings"), str(path), "train.steps: expected a whole number")
    assert_one_line_error(cli("train", "--data", str(tiny_corpus)), str(path))
    assert path.read_text(encoding="utf-8") == text


def test_settings_prints_the_file_path_and_the_effective_settings():
    path = paths.settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("[train]\npreset = 'tutorial'\n", encoding="utf-8")
    result = cli("settings")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"# settings file: {path}"
    assert "[model]\nn_layer = 1\n" in result.stdout and 'preset = "tutorial"' in result.stdout


def test_corpus_describes_a_text_file(tiny_corpus):
    result = cli("corpus", "--data", str(tiny_corpus))
    assert result.returncode == 0
    text = tiny_corpus.read_text(encoding="utf-8")
    assert f"characters: {len(text):,} in {text.count(chr(10)):,} lines" in result.stdout
    assert f"vocabulary: {len(set(text))} characters: ⏎␣" in result.stdout


def test_a_short_run_prints_its_size_and_losses_then_resume_goes_on(tmp_path, tiny_corpus):
    run = tmp_path / "run"
    result = cli("train", "--data", str(tiny_corpus), "--out", str(run), "--steps", "20", *TINY)
    assert result.returncode == 0, result.stderr
    assert " parameters (1 layers, 2 heads, 32 wide, context 16)" in result.stdout
    assert "completed at step 20: train loss " in result.stdout and "val loss" in result.stdout
    assert {p.name for p in run.iterdir()} >= {"config.toml", "events.jsonl", "checkpoint.pt"}

    assert_one_line_error(cli("train", "--resume", str(run)), "already trained 20 of 20 steps")
    again = cli("train", "--resume", str(run), "--steps", "30")
    assert again.returncode == 0, again.stderr
    assert "resuming run at step 20" in again.stdout and "completed at step 30" in again.stdout
    events = map(json.loads, run.joinpath("events.jsonl").read_text().splitlines())
    assert [e["step"] for e in events if e["type"] == "start"] == [0, 20]


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, tiny_corpus):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "train",
            "--data",
            str(tiny_corpus),
            "--out",
            str(run),
            "--steps",
            "1000000",
            *TINY,
        ],
        cwd=REPO,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            events = run / "events.jsonl"
            if events.exists() and '"type": "step"' in events.read_text(encoding="utf-8"):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = json.loads(run.joinpath("events.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["type"] == "done" and last["reason"] == "stopped"
    assert load_checkpoint(run / "checkpoint.pt")["step"] == last["step"] > 0
    assert f"stopped at step {last['step']}" in out
