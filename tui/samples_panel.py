"""The samples panel: what the model writes from the same prompt at each evaluation."""

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tui.run_state import Sample


def visible(text: str) -> str:
    """Text as the terminal should show it: tabs and stray control characters made visible."""
    return "".join(c if c == "\n" or c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class SamplesPanel(VerticalScroll):
    """The latest sample with its step, then the older ones, newest first."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown = 0

    def compose(self):
        yield Static("Samples appear at each evaluation.", id="samples-text")

    def on_mount(self) -> None:
        self.border_title = "Samples"

    def show(self, samples: list[Sample]) -> None:
        if len(samples) == self.shown:
            return
        self.shown = len(samples)
        text = self.query_one("#samples-text", Static)
        if not samples:
            text.update("Samples appear at each evaluation.")
            return
        blocks = []
        for n, sample in enumerate(reversed(samples)):
            title = f"step {sample.step:,}" + (" · latest" if n == 0 else "")
            body = sample.text.removeprefix(sample.prompt)
            prompt = sample.prompt if sample.text.startswith(sample.prompt) else ""
            blocks.append(
                Content.assemble(
                    (title, "bold $secondary" if n == 0 else "$text-muted"),
                    "\n",
                    (visible(prompt), "bold $accent"),
                    visible(body if prompt else sample.text),
                )
            )
        text.update(Content("\n\n").join(blocks))
        self.scroll_home(animate=False)
