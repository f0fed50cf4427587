"""RunState: what the panels draw, computed from events alone."""

import math

from engine.events import DoneEvent, EvalEvent, FailedEvent, PausedEvent, ResumedEvent, StepEvent
from tests.tui.conftest import T0, start_event, training_events
from tui.run_state import OVERFIT_RISES, RunState


def test_a_run_moves_through_its_states_and_keeps_its_history():
    state = RunState()
    assert state.state == "starting"
    state.apply(training_events(steps=80, max_steps=200, every=40))
    assert (state.state, state.step, state.max_steps) == ("running", 80, 200)
    assert state.steps == list(range(1, 81)) and len(state.smoothed) == 80
    assert [e.step for e in state.evals] == [40, 80] and len(state.samples) == 2

    state.apply([PausedEvent(80, time=T0 + 81)])
    assert state.state == "paused"
    state.apply([ResumedEvent(80, time=T0 + 82)])
    assert state.state == "running"
    entries = state.apply([DoneEvent(80, reason="stopped", time=T0 + 90)])
    assert state.state == "stopped" and "stopped at step 80" in entries[0].text
    assert state.elapsed(now=T0 + 10_000) == 90  # frozen once the run ended


def test_smoothing_follows_a_constant_loss_exactly_and_lags_a_jump():
    state = RunState()
    state.apply([start_event()])
    state.apply([StepEvent(s, loss=2.0, lr=1e-3, tokens_per_s=1.0) for s in range(1, 11)])
    assert all(math.isclose(v, 2.0) for v in state.smoothed)  # bias-corrected from step 1
    state.apply([StepEvent(11, loss=4.0, lr=1e-3, tokens_per_s=1.0)])
    assert 2.0 < state.smoothed[-1] < 3.0


def test_evaluations_report_perplexity_as_e_to_the_loss():
    state = RunState()
    state.apply([start_event()])
    [entry] = state.apply([EvalEvent(10, train_loss=1.0, val_loss=math.log(5.0))])
    assert "perplexity 5.00" in entry.text and "train 1.000" in entry.text


def test_overfitting_is_warned_once_when_val_rises_while_train_falls():
    state = RunState()
    state.apply([start_event()])
    evals = [
        EvalEvent(10 * (i + 1), train_loss=2.0 - 0.1 * i, val_loss=1.5 + 0.05 * i)
        for i in range(OVERFIT_RISES + 3)
    ]
    warnings = [e for e in state.apply(evals) if e.kind == "warning"]
    assert len(warnings) == 1 and "overfitting" in warnings[0].text
    assert warnings[0].step == 10 * (OVERFIT_RISES + 1)


def test_val_rising_with_train_rising_too_is_not_overfitting():
    state = RunState()
    state.apply([start_event()])
    evals = [EvalEvent(i, train_loss=1.0 + 0.1 * i, val_loss=1.5 + 0.1 * i) for i in range(6)]
    assert not [e for e in state.apply(evals) if e.kind == "warning"]


def test_a_resume_forgets_the_steps_it_is_about_to_redo():
    state = RunState()
    state.apply(training_events(steps=100, every=40))
    state.apply([start_event(step=80, resumed=True)])
    assert state.steps[-1] == 80 and len(state.smoothed) == 80
    assert [e.step for e in state.evals] == [40, 80]
    assert state.state == "running" and state.started_at == T0 + 80


def test_failures_from_an_event_or_a_vanished_trainer():
    state = RunState()
    state.apply(training_events(steps=30))
    [entry] = state.apply([FailedEvent(31, message="loss became nan")])
    assert (state.state, state.failure, state.step) == ("failed", "loss became nan", 31)
    assert entry.kind == "error"

    other = RunState()
    other.apply(training_events(steps=30))
    [entry] = other.trainer_gone("the trainer was killed by SIGKILL", now=T0 + 40)
    assert other.state == "failed" and "SIGKILL" in entry.text and entry.step == 30
    assert other.trainer_gone("again", now=T0 + 41) == []  # reported once
