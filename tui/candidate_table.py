"""The candidates of one generation step: what the model considered, and what was drawn."""

import math

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from data.tokenizer import visible
from engine.generation import Candidate, Step

BAR_CELLS = 8
TOP = 10
"""Candidates shown for a step (the chosen one is added when it ranks lower)."""
EIGHTHS = " ▏▎▍▌▋▊▉█"


class CandidateTable(Widget, can_focus=True):
    """Top candidates with raw and sampled probabilities; the drawn one highlighted.

    Drawn line by line from segments (Textual's line API), which keeps a step's repaint cheap.
    """

    COMPONENT_CLASSES = {
        "candidate-table--header",
        "candidate-table--chosen",
        "candidate-table--filtered",
        "candidate-table--cursor",
        "candidate-table--bar",
        "candidate-table--note",
        "candidate-table--rest",
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
        self._lines: list[Strip] = []
        self._built_for = -1
        self._styles: dict[str, Style] | None = None

    def show(self, step: Step, rows: list[Candidate], pending: bool) -> None:
        """Display step's candidates; pending means its character is still to be chosen."""
        lines_before = self._line_count()
        self.step, self.rows, self.pending = step, rows, pending
        self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        self._built_for = -1
        self.refresh(layout=self._line_count() != lines_before)

    def clear(self, placeholder: str) -> None:
        """Show a line of text instead of a step."""
        self.step, self.rows, self.placeholder = None, [], placeholder
        self._built_for = -1
        self.refresh(layout=True)

    def action_cursor(self, delta: int) -> None:
        if self.rows:
            self.cursor = (self.cursor + delta) % len(self.rows)

    def action_pick(self) -> None:
        if self.rows:
            self.post_message(self.Picked(self.cursor))

    def watch_cursor(self) -> None:
        self._built_for = -1
        self.refresh()

    def on_focus(self) -> None:
        self.watch_cursor()

    def on_blur(self) -> None:
        self.watch_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # the theme's colours are baked into the lines
        self._built_for = -1

    def _theme(self) -> dict[str, Style]:
        """The base style and one per component class, worked out once per theme."""
        if self._styles is None:
            base = self.rich_style
            self._styles = {"base": base} | {
                name: base + self.get_component_rich_style(f"candidate-table--{name}")
                for name in ("header", "chosen", "filtered", "cursor", "bar", "note", "rest")
            }
        return self._styles

    def _line_count(self) -> int:
        """The table's height: for a step, TOP rows and one more.

        The last row holds a chosen character ranked lower, or else the rest of the vocabulary.
        The height stays the same from step to step, so that a step never lays out the screen.
        """
        if self.step is None:
            return 1
        return 3 + min(TOP + 1, self.step.probs.numel())

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.step is None:
            return len(Text(self.placeholder).wrap(self.app.console, max(width, 1)))
        return self._line_count()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._built_for != width:
            self._lines = self._build(width)
            self._built_for = width
        return self._lines[y] if y < len(self._lines) else Strip.blank(width, self.rich_style)

    def _build(self, width: int) -> list[Strip]:
        """The title, the facts line, the header and a line per candidate."""
        base = self.rich_style
        if self.step is None:
            wrapped = Text(self.placeholder, style=base).wrap(self.app.console, max(width, 1))
            return [
                Strip(line.render(self.app.console)).adjust_cell_length(width, base)
                for line in wrapped
            ]
        step = self.step
        styles = self._theme()
        header = f"  {'#':>2} {'ch':<3} {'id':>3} {'p':>5} {'p′':>5} {'interval':<9} bar"
        lines = [
            self._title(step, base, styles["note"]),
            [Segment(self._facts(step), base)],
            [Segment(header, styles["header"])],
        ]
        lines.extend(self._row(i, row, base, styles) for i, row in enumerate(self.rows))
        if len(lines) < self._line_count():
            lines.append([Segment(self._rest(step), styles["rest"])])
        return [Strip(segments).crop_extend(0, width, base) for segments in lines]

    def _rest(self, step: Step) -> str:
        """The characters not in the table, as one row: how many, and their probability."""
        shown = [row.token for row in self.rows]
        prob = max(1.0 - float(step.probs[shown].sum()), 0.0)
        shaped = max(1.0 - float(step.shaped[shown].sum()), 0.0)
        count = f"+{step.probs.numel() - len(shown)} more"
        shaped_text = "  -  " if shaped < 5e-4 else f"{shaped:5.3f}"
        return f"    {count:<8} {prob:5.3f} {shaped_text} the rest"

    def _title(self, step: Step, base: Style, note: Style) -> list[Segment]:
        title = [Segment(f"Step {step.index + 1} · ", base)]
        ch = visible(self._char(step.chosen)) if step.chosen is not None else ""
        if self.pending:
            title.append(Segment("next: space draws, 1-0 picks", note))
        elif step.draw is not None:
            d = step.draw
            title.append(
                Segment(
                    f"drew {ch!r}: u={_short(d.u, 4)} in [{_short(d.low)}, {_short(d.high)})", note
                )
            )
        else:
            word = "greedy: took the most likely" if step.how == "greedy" else "you picked"
            title.append(Segment(f"{word} {ch!r}", note))
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

    def _row(self, i: int, row: Candidate, base: Style, styles: dict[str, Style]) -> list[Segment]:
        style = base
        if row.filtered:
            style = styles["filtered"]
        if row.chosen:
            style = styles["chosen"]
        cursor = i == self.cursor and self.has_focus
        if cursor:
            style = styles["cursor"]
        marker = "▶" if row.chosen else (">" if cursor else " ")
        shaped = "  -  " if row.filtered else f"{row.shaped:5.3f}"
        interval = "removed" if row.filtered else f"{_short(row.cum_low)}-{_short(row.cum_high)}"
        text = (
            f"{marker} {row.rank:>2} {visible(row.char):<3} {row.token:>3} "
            f"{row.prob:5.3f} {shaped} {interval:<9} "
        )
        bar_style = style if style is not base else styles["bar"]
        return [
            Segment(text, style),
            Segment(_bar(row.prob if row.filtered else row.shaped), bar_style),
        ]

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
