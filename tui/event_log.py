"""The event log: evaluations, checkpoints, warnings and what was asked of the trainer."""

import textwrap

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

STEP_WIDTH = 7
# The log keeps the most recent lines; a long run with frequent evaluations stays cheap.
MAX_ENTRIES = 500


class EventLog(VerticalScroll):
    """A scrolling list of what happened, newest at the bottom, long lines indented."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[LogEntry] = []
        self._width = 0

    def compose(self):
        yield Static(id="log-text")

    def on_mount(self) -> None:
        self.border_title = "Events"

    def add(self, entries: list[LogEntry]) -> None:
        if entries:
            self.entries.extend(entries)
            del self.entries[:-MAX_ENTRIES]
            self._render_entries()

    def clear(self) -> None:
        self.entries = []
        self._render_entries()

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:
            self._render_entries()

    def _render_entries(self) -> None:
        self._width = self.scrollable_content_region.width
        following = self.scroll_y >= self.max_scroll_y
        text_width = max(20, self._width - STEP_WIDTH - 1)
        lines = []
        for entry in self.entries:
            wrapped = textwrap.wrap(entry.text, text_width) or [""]
            body = ("\n" + " " * STEP_WIDTH).join(wrapped)
            lines.append(
                Content.assemble(
                    (f"{entry.step:>{STEP_WIDTH - 1},} ", "$text-muted"),
                    (body, KIND_STYLES[entry.kind]),
                )
            )
        self.query_one("#log-text", Static).update(Content("\n").join(lines))
        if following:
            self.call_after_refresh(self.scroll_end, animate=False)

    def text(self) -> str:
        """The log as plain text, one entry a line."""
        return "\n".join(f"{entry.step} {entry.text}" for entry in self.entries)
