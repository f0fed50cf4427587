"""Run summaries: the state, step and best loss of real runs in every phase of their life."""

import math
import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.control import Control
from engine.events import (
    DoneEvent,
    EvalEvent,
    EventWriter,
    FailedEvent,
    PausedEvent,
    ResumedEvent,
    StartEvent,
    StepEvent,
    read_events,
)
from engine.run_dir import RunDir
from engine.runner import make_trainer, new_run_dir, stream_events
from engine.runs import STARTING_GRACE_S, format_age, list_runs, summarize_run


def _start(step: int = 0, pid: int = 0, max_steps: int = 30) -> StartEvent:
    return StartEvent(
        step,
        run="r",
        config={"train": {"preset": "tutorial"}},
        vocab_size=3,
        vocab="abc",
        params={"total": 1},
        device="cpu",
        data="d",
        max_steps=max_steps,
        pid=pid,
    )


def _write(run: RunDir, *events) -> None:
    writer = EventWriter(run.events)
    for event in events:
        writer.write(event)
    writer.close()


def test_a_completed_run_is_done_with_its_best_validation_loss(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "runs" / "a")
    with run.hold_lock():
        events = list(stream_events(run, make_trainer(tiny_settings, run, Control(), False)))

    s = summarize_run(run.path)
    vals = [e.val_loss for e in events if isinstance(e, EvalEvent)]
    assert (s.state, s.step, s.max_steps, s.preset) == ("done", 30, 30, "small")
    assert s.best_val_loss == min(vals)
    assert s.has_checkpoint and s.pid is None and not s.alive
    assert s.updated == events[-1].time


def test_a_live_run_is_running_then_paused_then_stopped(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    control = Control()
    with run.hold_lock():
        events = stream_events(run, make_trainer(tiny_settings, run, control, False))
        while not isinstance(next(events), StepEvent):
            pass
        assert summarize_run(run.path).state == "running"
        assert summarize_run(run.path).pid == os.getpid()

        control.request("pause")
        while not isinstance(next(events), PausedEvent):
            pass
        assert summarize_run(run.path).state == "paused"

        control.request("resume")
        control.request("stop")
        rest = list(events)
    assert isinstance(rest[-1], DoneEvent) and rest[-1].reason == "stopped"
    assert summarize_run(run.path).state == "stopped"


def test_a_trainer_that_died_without_an_end_event_is_failed(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    with run.hold_lock():
        events = stream_events(run, make_trainer(tiny_settings, run, Control(), False))
        steps = [next(events) for _ in range(5)]
        events.close()  # the trainer stops mid-run without writing done or failed
    s = summarize_run(run.path)
    assert s.state == "failed"
    assert s.step == steps[-1].step > 0


def test_failed_event_and_failure_after_resume(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    _write(
        run,
        _start(),
        StepEvent(1, loss=2.0, lr=1e-3, tokens_per_s=1.0),
        FailedEvent(1, message="loss became nan"),
    )
    assert summarize_run(run.path).state == "failed"

    # resumed later and completed: only the events after the last start count
    _write(run, _start(step=1), DoneEvent(2))
    assert summarize_run(run.path).state == "done"


def test_a_new_trainer_holding_the_lock_is_starting(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    with run.hold_lock():
        assert summarize_run(run.path).state == "starting"  # no events yet
        # an earlier trainer (another pid) finished; this one is resuming
        _write(run, _start(pid=os.getpid() + 1), DoneEvent(30))
        assert summarize_run(run.path).state == "starting"
        # once it writes its own start it is running
        _write(run, _start(step=30, pid=os.getpid(), max_steps=60))
        s = summarize_run(run.path)
        assert (s.state, s.max_steps) == ("running", 60)
    assert summarize_run(run.path).state == "failed"


def test_a_run_with_no_events_is_starting_for_a_while_then_failed(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    s = summarize_run(run.path)
    assert (s.state, s.step, s.max_steps, s.preset) == ("starting", 0, 30, "small")

    old = time.time() - STARTING_GRACE_S - 5
    for path in (run.config, run.path):
        os.utime(path, (old, old))
    assert summarize_run(run.path).state == "failed"


def test_torn_lines_and_garbage_are_ignored(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    _write(
        run,
        _start(),
        StepEvent(1, loss=2.0, lr=1e-3, tokens_per_s=1.0),
        EvalEvent(1, train_loss=2.0, val_loss=1.5),
    )
    with open(run.events, "ab") as f:
        f.write(b'not json\n{"type": "eval", "step": 2, "val_loss": 0.1}\n')  # missing field
        f.write(b'{"type": "eval", "step": 3, "time": 1.0, "train_loss": 1, "val_loss": 0.')
    s = summarize_run(run.path)
    assert (s.state, s.step, s.best_val_loss) == ("failed", 1, 1.5)


def test_list_runs_skips_other_folders_and_sorts_by_activity(tmp_path):
    root = tmp_path / "runs"
    assert list_runs(root) == []
    (root / "not-a-run").mkdir(parents=True)
    (root / "a-file.txt").write_text("x")
    for name, when in (("old", 1000.0), ("new", 3000.0), ("middle", 2000.0)):
        run = RunDir(root / name)
        run.path.mkdir()
        _write(run, _start(), DoneEvent(30, time=when))
    assert [s.name for s in list_runs(root)] == ["new", "middle", "old"]


def test_format_age():
    assert [format_age(s) for s in (0, 59.9, 60, 7200, 90000)] == ["0s", "59s", "1m", "2h", "1d"]


_losses = st.floats(allow_nan=True, allow_infinity=True, width=32)
_events = st.one_of(
    st.builds(lambda s, v: EvalEvent(s, train_loss=1.0, val_loss=v), st.integers(0, 99), _losses),
    st.builds(lambda s: StepEvent(s, loss=1.0, lr=0.1, tokens_per_s=1.0), st.integers(0, 99)),
    st.builds(lambda s: PausedEvent(s), st.integers(0, 99)),
    st.builds(lambda s: ResumedEvent(s), st.integers(0, 99)),
    st.builds(lambda s: _start(s), st.integers(0, 99)),
    st.builds(
        lambda s, r: DoneEvent(s, reason=r),
        st.integers(0, 99),
        st.sampled_from(["completed", "stopped"]),
    ),
    st.builds(lambda s: FailedEvent(s, message="x"), st.integers(0, 99)),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(_events, max_size=30))
def test_the_fast_scan_agrees_with_reading_every_event(tmp_path, events):
    run = RunDir(tmp_path / "prop")
    run.path.mkdir(exist_ok=True)
    run.events.unlink(missing_ok=True)
    _write(run, _start(), *events)

    everything = read_events(run.events)
    s = summarize_run(run.path)
    vals = [e.val_loss for e in everything if isinstance(e, EvalEvent)]
    finite = [v for v in vals if not math.isnan(v)]
    assert s.step == everything[-1].step
    assert s.best_val_loss == (min(finite) if finite else None)
    after = everything[max(i for i, e in enumerate(everything) if isinstance(e, StartEvent)) :]
    end = [e for e in after if isinstance(e, (DoneEvent, FailedEvent))]
    expected = (
        "failed"
        if not end or isinstance(end[-1], FailedEvent)
        else {"completed": "done", "stopped": "stopped"}[end[-1].reason]
    )
    assert s.state == expected
