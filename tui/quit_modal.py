"""Asked on quit while a run trains: stop it and save, leave it training, or cancel."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitModal(ModalScreen[str | None]):
    """Dismissed with "stop", "leave" or None (cancel)."""

    # enter on the focused button should never be the step that stops a run
    AUTO_FOCUS = "#cancel"
    BINDINGS = [
        Binding("s", "choose('stop')", "Stop and save"),
        Binding("l", "choose('leave')", "Leave it training"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, run_name: str, step_text: str) -> None:
        super().__init__()
        self.run_name = run_name
        self.step_text = step_text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                Content.from_markup(
                    "[b]$name[/b] is still training ($steps).",
                    name=self.run_name,
                    steps=self.step_text,
                ),
                classes="dialog-title",
            )
            yield Static(
                "Stop it and save a checkpoint, or leave it training after the dashboard "
                "closes? A run left training keeps checkpointing; [b]minigpt-tui[/b] "
                "attaches to it again.",
                classes="dialog-body",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("s  Stop and save", id="stop", variant="error")
                yield Button("l  Leave it training", id="leave", variant="primary")
                yield Button("esc  Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
