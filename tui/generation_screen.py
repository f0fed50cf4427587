"""The generation pane (being built): step through generation one character at a time."""

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class GenerationScreen(Screen):
    """Step-by-step generation from the current run's model or an opened checkpoint."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Generation pane", id="generation-placeholder")
        yield Footer()
