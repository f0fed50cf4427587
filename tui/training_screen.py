"""The training screen: status line, loss chart, model, samples and event log."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from tui.event_log import EventLog
from tui.loss_chart import LossChart
from tui.model_panel import ModelPanel
from tui.run_state import LogEntry, RunState
from tui.samples_panel import SamplesPanel
from tui.status_line import StatusLine


class TrainingScreen(Screen):
    """Everything a training run streams, on one screen."""

    BINDINGS = [
        Binding(
            "l", "toggle_log_scale", "Log scale", show=False, tooltip="Loss chart on a log scale"
        )
    ]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Horizontal(id="panels"):
            with Vertical(id="left"):
                yield LossChart(id="chart")
                yield EventLog(id="log")
            with Vertical(id="right"):
                yield ModelPanel(id="model")
                yield SamplesPanel(id="samples")
        yield Footer(compact=True)

    @property
    def ready(self) -> bool:
        """Whether the panels exist: not before compose, nor once the app is closing."""
        return bool(self.query(StatusLine))

    def show(
        self,
        state: RunState | None,
        entries: list[LogEntry],
        now: float,
        note: str,
        new_start: bool,
    ) -> None:
        """Bring every panel up to date with state; entries are new event-log lines."""
        self.query_one(StatusLine).show(state, now, note)
        self.query_one(EventLog).add(entries)
        if new_start or state is None:
            self.query_one(ModelPanel).show(state.start if state else None)
        self.query_one(SamplesPanel).show(state.samples if state else [])
        self.query_one(LossChart).show(state)

    def show_status(self, state: RunState | None, now: float, note: str) -> None:
        """Only the status line: the clock moved or the trainer's liveness changed."""
        self.query_one(StatusLine).show(state, now, note)

    def reset(self) -> None:
        """Forget the previous run's lines before following another."""
        self.query_one(EventLog).clear()

    def action_toggle_log_scale(self) -> None:
        chart = self.query_one(LossChart)
        chart.log_scale = not chart.log_scale
