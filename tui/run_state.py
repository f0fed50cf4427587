"""What the dashboard knows about the run it follows, built up from the run's events.

Plain Python, no widgets: the panels draw from it, and tests can feed it events directly.
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from engine.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    Event,
    FailedEvent,
    PausedEvent,
    ResumedEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    WarningEvent,
)
from tui import format as fmt

STATES = ("starting", "running", "paused", "stopped", "done", "failed")
ENDED = ("stopped", "done", "failed")

# The smoothed curve is an exponential moving average with TensorBoard's bias correction, so
# the first few points are not dragged towards zero.
SMOOTHING = 0.95

# Validation loss rising this many evaluations in a row while training loss falls is the
# textbook sign of overfitting.
OVERFIT_RISES = 3


@dataclass(frozen=True)
class LogEntry:
    """One line of the event log; kind picks its colour."""

    step: int
    kind: str
    """info, eval, checkpoint, warning, error or control."""
    text: str


@dataclass(frozen=True)
class Evaluation:
    step: int
    train_loss: float
    val_loss: float


@dataclass(frozen=True)
class Sample:
    step: int
    prompt: str
    text: str


@dataclass
class RunState:
    """The run's identity, progress, loss history, samples and state word."""

    name: str = ""
    state: str = "starting"
    """One of STATES."""
    start: StartEvent | None = None
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    started_at: float | None = None
    last_event_at: float | None = None
    ended_at: float | None = None
    failure: str | None = None
    checkpoint_step: int | None = None
    alive: bool = False
    """Whether a trainer process holds the run's lock right now."""
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    evals: list[Evaluation] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    _ema: float = 0.0
    _overfit_warned: bool = False

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def preset(self) -> str:
        return str(self.start.config["train"].get("preset", "")) if self.start else ""

    @property
    def device(self) -> str:
        return self.start.device if self.start else ""

    def elapsed(self, now: float) -> float | None:
        """Seconds since the trainer (re)started, frozen once the run has ended."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended and self.ended_at is not None else now
        return max(0.0, end - self.started_at)

    def quiet_for(self, now: float) -> float:
        """Seconds since the last event; 0 unless the run should be producing them."""
        if self.state != "running" or self.last_event_at is None:
            return 0.0
        return max(0.0, now - self.last_event_at)

    def apply(self, events: Iterable[Event]) -> list[LogEntry]:
        """Take in events in order; return the lines they add to the event log."""
        entries: list[LogEntry] = []
        for event in events:
            self.last_event_at = event.time
            if isinstance(event, StepEvent):
                self._step(event)
            elif isinstance(event, StartEvent):
                entries.append(self._begin(event))
            elif isinstance(event, EvalEvent):
                entries.extend(self._evaluation(event))
            elif isinstance(event, SampleEvent):
                self.samples.append(Sample(event.step, event.prompt, event.text))
            elif isinstance(event, CheckpointEvent):
                self.checkpoint_step = event.step
                entries.append(
                    LogEntry(
                        event.step, "checkpoint", f"checkpoint saved ({Path(event.path).name})"
                    )
                )
            elif isinstance(event, PausedEvent):
                self.state = "paused"
                entries.append(LogEntry(event.step, "control", "paused"))
            elif isinstance(event, ResumedEvent):
                self.state = "running"
                entries.append(LogEntry(event.step, "control", "resumed"))
            elif isinstance(event, WarningEvent):
                entries.append(LogEntry(event.step, "warning", event.message))
            elif isinstance(event, DoneEvent):
                entries.append(self._done(event))
            elif isinstance(event, FailedEvent):
                entries.append(self._fail(event.step, event.message, event.time))
        return entries

    def trainer_gone(self, message: str, now: float) -> list[LogEntry]:
        """The trainer ended without a done or failed event: it crashed or was killed."""
        self.alive = False
        if self.ended:
            return []
        return [self._fail(self.step, message, now)]

    def _begin(self, event: StartEvent) -> LogEntry:
        self.start, self.name = event, event.run
        self.state, self.failure, self.ended_at = "running", None, None
        self.step, self.max_steps, self.started_at = event.step, event.max_steps, event.time
        if event.resumed:
            # a resume restarts from the checkpoint: later steps are about to be redone
            self._forget_after(event.step)
            text = f"resumed at step {event.step:,} of {event.max_steps:,} on {event.device}"
        else:
            text = (
                f"started: {fmt.count(event.params.get('total'))} parameters, "
                f"{event.max_steps:,} steps on {event.device}; data: {event.data}"
            )
        return LogEntry(event.step, "info", text)

    def _step(self, event: StepEvent) -> None:
        self.step, self.loss, self.lr, self.eta_s = event.step, event.loss, event.lr, event.eta_s
        if self.state == "starting":
            self.state = "running"
        if math.isfinite(event.tokens_per_s):
            old = self.tokens_per_s
            self.tokens_per_s = (
                event.tokens_per_s if old is None else 0.8 * old + 0.2 * event.tokens_per_s
            )
        self.steps.append(event.step)
        self.losses.append(event.loss)
        self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * event.loss
        self.smoothed.append(self._ema / (1 - SMOOTHING ** len(self.losses)))

    def _evaluation(self, event: EvalEvent) -> list[LogEntry]:
        self.evals.append(Evaluation(event.step, event.train_loss, event.val_loss))
        text = (
            f"eval: train {event.train_loss:.3f} · val {event.val_loss:.3f} · "
            f"perplexity {fmt.perplexity(event.val_loss)}"
        )
        entries = [LogEntry(event.step, "eval", text)]
        if self._overfitting():
            if not self._overfit_warned:
                self._overfit_warned = True
                entries.append(
                    LogEntry(
                        event.step,
                        "warning",
                        (
                            f"validation loss rose {OVERFIT_RISES} evaluations in a row while "
                            "training loss fell: the model is memorising its training text "
                            "(overfitting); more data, dropout or fewer steps help"
                        ),
                    )
                )
        else:
            self._overfit_warned = False
        return entries

    def _overfitting(self) -> bool:
        recent = self.evals[-(OVERFIT_RISES + 1) :]
        if len(recent) <= OVERFIT_RISES:
            return False
        val_rising = all(a.val_loss < b.val_loss for a, b in zip(recent, recent[1:]))
        return val_rising and recent[-1].train_loss < recent[0].train_loss

    def _done(self, event: DoneEvent) -> LogEntry:
        self.state = "done" if event.reason == "completed" else "stopped"
        self.step, self.ended_at = event.step, event.time
        losses = ""
        if event.train_loss is not None and event.val_loss is not None:
            losses = f": train {fmt.loss(event.train_loss)} · val {fmt.loss(event.val_loss)}"
        verb = "completed" if self.state == "done" else "stopped"
        return LogEntry(event.step, "info", f"{verb} at step {event.step:,}{losses}")

    def _fail(self, step: int, message: str, at: float) -> LogEntry:
        self.state, self.failure, self.ended_at = "failed", message, at
        self.step = step
        return LogEntry(step, "error", f"failed at step {step:,}: {message}")

    def _forget_after(self, step: int) -> None:
        keep = next((i for i, s in enumerate(self.steps) if s > step), len(self.steps))
        if keep == len(self.steps):
            return
        del self.steps[keep:], self.losses[keep:]
        self.evals = [e for e in self.evals if e.step <= step]
        self.smoothed, self._ema = [], 0.0
        for n, value in enumerate(self.losses, start=1):
            self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * value
            self.smoothed.append(self._ema / (1 - SMOOTHING**n))
