"""A whole tiny run through the runner: the run directory holds what the README promises."""

from engine.control import Control
from engine.events import DoneEvent, EvalEvent, StartEvent, StepEvent, read_events
from engine.loading import load_model
from engine.runner import make_trainer, new_run_dir, stream_events


def test_tiny_run_writes_a_complete_run_directory(tmp_path, tiny_settings):
    run = new_run_dir(tiny_settings, tmp_path / "run")
    with run.hold_lock():
        trainer = make_trainer(tiny_settings, run, Control(), resume=False)
        events = list(stream_events(run, trainer))

    assert isinstance(events[0], StartEvent) and isinstance(events[-1], DoneEvent)
    assert [e.step for e in events if isinstance(e, StepEvent)] == list(range(1, 31))
    assert len([e for e in events if isinstance(e, EvalEvent)]) == 3
    assert [type(e) for e in read_events(run.events)] == [type(e) for e in events]
    assert load_model(run.path).step == 30
