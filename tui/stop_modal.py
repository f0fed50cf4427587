"""Asked before stopping a run: it saves a checkpoint and its trainer exits."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class StopModal(ModalScreen[bool]):
    """Dismissed with True to stop the run."""

    # enter on the focused button should never be the step that stops a run
    AUTO_FOCUS = "#cancel"
    BINDINGS = [
        Binding("s,y", "choose(True)", "Stop"),
        Binding("escape,n", "choose(False)", "Cancel"),
    ]

    def __init__(self, run_name: str, run_path: str) -> None:
        super().__init__()
        self.run_name = run_name
        self.run_path = run_path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                Content.from_markup("Stop [b]$name[/b]?", name=self.run_name),
                classes="dialog-title",
            )
            yield Static(
                Content.from_markup(
                    "The trainer saves a checkpoint and exits. Continue it later with "
                    "[b]minigpt-tui --resume $path[/b].",
                    path=self.run_path,
                ),
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("s  Stop and save", id="stop", variant="error")
                yield Button("esc  Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "stop")

    def action_choose(self, stop: bool) -> None:
        self.dismiss(stop)
