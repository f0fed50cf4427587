"""The event log: evaluations, checkpoints, warnings and what was asked of the trainer."""

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from tui.run_state import LogEntry

KIND_STYLES = {
    "info": "",
    "eval": "$text",
    "checkpoint": "$success",
    "warning": "$warning",
    "error": "bold $error",
    "control": "$secondary",
}

# The log keeps the most recent lines; a long run with frequent evaluations stays cheap.
MAX_LINES = 500


class EventLog(VerticalScroll):
    """A scrolling list of what happened, newest at the bottom."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Content] = []

    def compose(self):
        yield Static(id="log-text")

    def on_mount(self) -> None:
        self.border_title = "Events"

    def add(self, entries: list[LogEntry]) -> None:
        if not entries:
            return
        for entry in entries:
            self.lines.append(Content.assemble(
                (f"{entry.step:>6,} ", "$text-muted"), (entry.text, KIND_STYLES[entry.kind])))
        del self.lines[:-MAX_LINES]
        following = self.scroll_y >= self.max_scroll_y
        self.query_one("#log-text", Static).update(Content("\n").join(self.lines))
        if following:
            self.call_after_refresh(self.scroll_end, animate=False)

    def clear(self) -> None:
        self.lines = []
        self.query_one("#log-text", Static).update("")

    def text(self) -> str:
        """The log as plain text."""
        return "\n".join(line.plain for line in self.lines)
