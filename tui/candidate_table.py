"""The candidates of one generation step: what the model considered, and what was drawn."""

import math

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from data.tokenizer import visible
from engine.generation import Candidate, Step

BAR_CELLS = 8
EIGHTHS = " ▏▎▍▌▋▊▉█"


class CandidateTable(Widget, can_focus=True):
    """Top candidates with raw and sampled probabilities; the drawn one highlighted."""

    COMPONENT_CLASSES = {
        "candidate-table--header",
        "candidate-table--chosen",
        "candidate-table--filtered",
        "candidate-table--cursor",
        "candidate-table--bar",
        "candidate-table--note",
    }
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("enter", "pick", "Pick row", show=False, tooltip="Take the highlighted candidate"),
    ]

    cursor: reactive[int] = reactive(0)
    """The highlighted row, for arrows and enter."""

    class Picked(Message):
        """The user chose row `row` of the table (enter on the highlighted row)."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.step: Step | None = None
        self.rows: list[Candidate] = []
        self.pending = True
        self.placeholder = "No model loaded."

    def show(self, step: Step, rows: list[Candidate], pending: bool) -> None:
        """Display step's candidates; pending means its character is still to be chosen."""
        self.step, self.rows, self.pending = step, rows, pending
        self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        self.refresh(layout=True)

    def clear(self, placeholder: str) -> None:
        """Show a line of text instead of a step."""
        self.step, self.rows, self.placeholder = None, [], placeholder
        self.refresh(layout=True)

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor = (self.cursor + delta) % len(self.rows)

    def action_pick(self) -> None:
        if self.rows:
            self.post_message(self.Picked(self.cursor))

    def watch_cursor(self) -> None:
        self.refresh()

    def render(self) -> Text:
        if self.step is None:
            return Text(self.placeholder)
        step = self.step
        note = self.get_component_rich_style("candidate-table--note")
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append_text(self._title(step, note))
        out.append("\n")
        out.append(self._facts(step))
        out.append("\n")
        out.append(f"  {'#':>2} {'ch':<3} {'id':>3} {'p':>5} {'p′':>5} {'interval':<9} bar\n",
                   self.get_component_rich_style("candidate-table--header"))
        for i, row in enumerate(self.rows):
            out.append_text(self._row(i, row))
            if i < len(self.rows) - 1:
                out.append("\n")
        return out

    def _title(self, step: Step, note: Style) -> Text:
        title = Text(f"Step {step.index + 1} · ")
        if self.pending:
            title.append("next: space draws, 1-0 picks", note)
        elif step.draw is not None:
            ch = visible(self._char(step.chosen))
            title.append(f"drew {ch!r}: u={_short(step.draw.u, 4)} in "
                         f"[{_short(step.draw.low)}, {_short(step.draw.high)})", note)
        else:
            ch = visible(self._char(step.chosen))
            word = "greedy: took the most likely" if step.how == "greedy" else "you picked"
            title.append(f"{word} {ch!r}", note)
        return title

    def _facts(self, step: Step) -> str:
        s = step.sampling
        k = "all" if s.top_k == 0 or s.top_k >= step.probs.numel() else str(s.top_k)
        shaping = "greedy" if s.greedy else f"T={s.temperature:g} k={k} p={s.top_p:g}"
        facts = f"H {step.entropy_bits:.2f} bits"
        if step.surprisal_bits is not None and not self.pending:
            surprisal = step.surprisal_bits
            facts += f" · surprisal {'∞' if math.isinf(surprisal) else f'{surprisal:.2f}'}"
        return f"{facts} · {shaping}"

    def _row(self, i: int, row: Candidate) -> Text:
        style = ""
        if row.filtered:
            style = self.get_component_rich_style("candidate-table--filtered")
        if row.chosen:
            style = self.get_component_rich_style("candidate-table--chosen")
        cursor = i == self.cursor and self.has_focus
        if cursor:
            style = self.get_component_rich_style("candidate-table--cursor")
        marker = "▶" if row.chosen else (">" if cursor else " ")
        shaped = "  -  " if row.filtered else f"{row.shaped:5.3f}"
        interval = "removed" if row.filtered else f"{_short(row.cum_low)}-{_short(row.cum_high)}"
        line = Text(f"{marker} {row.rank:>2} {visible(row.char):<3} {row.token:>3} "
                    f"{row.prob:5.3f} {shaped} {interval:<9} ", style=style)
        bar_style = style or self.get_component_rich_style("candidate-table--bar")
        line.append(_bar(row.prob if row.filtered else row.shaped), bar_style)
        return line

    def _char(self, token: int | None) -> str:
        for row in self.rows:
            if row.token == token:
                return row.char
        return "?"


def _short(x: float, digits: int = 3) -> str:
    """0.380 as .380, and 1 as 1.00: digits + 1 characters."""
    return "1.00" if x >= 1 - 0.5 * 10**-digits else f"{x:.{digits}f}"[1:]


def _bar(p: float) -> str:
    eighths = round(p * BAR_CELLS * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(BAR_CELLS)
