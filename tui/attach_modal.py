"""Offered at startup when a run is already training: attach to it instead of a second one."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from engine.runs import RunSummary, format_age


class AttachModal(ModalScreen[str]):
    """Dismissed with "attach" or "new"."""

    BINDINGS = [
        Binding("a,enter,escape", "choose('attach')", "Attach"),
        Binding("n", "choose('new')", "Start a new run anyway"),
    ]

    def __init__(self, live: list[RunSummary], now: float) -> None:
        super().__init__()
        self.live = live
        self.now = now

    def compose(self) -> ComposeResult:
        run = self.live[0]
        steps = f"step {run.step:,}" + (f"/{run.max_steps:,}" if run.max_steps else "")
        others = len(self.live) - 1
        more = f" {others} more run(s) are training too; [b]o[/b] lists them." if others else ""
        with Vertical(classes="dialog"):
            yield Static(
                Content.from_markup("[b]$name[/b] is still training", name=run.name),
                classes="dialog-title",
            )
            yield Static(
                Content.from_markup(
                    f"$state, {steps}, preset $preset, last event "
                    f"{format_age(run.age(self.now))} ago.{more}\n\nAttach to it (all controls "
                    "work), or start a new run beside it? Two runs share the same processors.",
                    state=run.state,
                    preset=run.preset or "?",
                ),
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("a  Attach", id="attach", variant="primary")
                yield Button("n  New run anyway", id="new")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
