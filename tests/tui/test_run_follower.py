"""Following a run directory: new events, and a trainer that vanishes without a last word."""

import subprocess
import sys

from engine.events import DoneEvent, StepEvent
from engine.run_dir import RunDir
from engine.settings import merge_layers, parse_override, resolve
from tests.tui.conftest import T0, training_events, write_events
from tui.run_follower import RunFollower
from tui.trainer_process import TrainerProcess, describe_exit, setting_arguments


def test_new_events_arrive_once_and_a_live_lock_means_alive(tmp_path):
    run = RunDir(tmp_path)
    write_events(run, training_events(steps=10))
    follower = RunFollower(run)
    with run.hold_lock():
        first = follower.poll()
        assert first.alive and len(first.events) == 11 and first.gone is None
        write_events(run, [StepEvent(11, loss=1.0, lr=1e-3, tokens_per_s=1.0)])
        assert [e.step for e in follower.poll().events] == [11]
        assert follower.poll().events == []


def test_a_trainer_that_lets_go_without_a_final_event_is_reported_gone_once(tmp_path):
    run = RunDir(tmp_path)
    write_events(run, training_events(steps=10))
    follower = RunFollower(run)
    with run.hold_lock():
        assert follower.poll().gone is None
    update = follower.poll()
    assert not update.alive and "without finishing" in (update.gone or "")
    assert follower.poll().gone is None


def test_a_finished_run_is_not_gone(tmp_path):
    run = RunDir(tmp_path)
    write_events(run, [*training_events(steps=10), DoneEvent(10, time=T0 + 10)])
    update = RunFollower(run).poll()
    assert update.gone is None and not update.alive and len(update.events) == 12


def test_a_child_that_dies_at_startup_is_gone_with_its_last_words(tmp_path):
    run = RunDir(tmp_path)
    # an earlier trainer's `done` does not describe this child
    write_events(run, [*training_events(steps=5), DoneEvent(5, time=T0 + 5)])
    run.log.write_text("minigpt-tui: error: tiny.txt: no such file\n")
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    child.wait()
    update = RunFollower(run, TrainerProcess(run, child)).poll()
    assert update.gone == (
        "the trainer exited with status 2; trainer.log ends: "
        "minigpt-tui: error: tiny.txt: no such file"
    )


def test_exit_descriptions_name_the_signal():
    assert describe_exit(-9) == "the trainer was killed by SIGKILL"
    assert describe_exit(1) == "the trainer exited with status 1"


def test_setting_arguments_reproduce_the_settings_exactly(tiny_settings):
    tricky = resolve(
        {},
        merge_layers(
            tiny_settings.to_dict(),
            {"sample": {"prompt": 'He said "no"\\\n\t', "temperature": 0.0}},
        ),
    )
    args = setting_arguments(tricky.to_dict())
    assert all(a.startswith("--set=") for a in args)
    layers = [parse_override(a.removeprefix("--set=")) for a in args]
    assert resolve({}, merge_layers(*layers)) == tricky
