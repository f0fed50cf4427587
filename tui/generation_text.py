"""The prompt and the generated text, each generated character shaded by its probability."""

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from data.tokenizer import visible
from tui.generation_heat import level, ramp


class GenerationText(Widget):
    """Generated characters on a ramp from unlikely to likely; the selected step underlined.

    Wrapped and drawn here, line by line, because every character has a style of its own.
    """

    COMPONENT_CLASSES = {
        "generation-text--prompt",
        "generation-text--unlikely",
        "generation-text--likely",
        "generation-text--selected",
        "generation-text--caret",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt = ""
        self.chars: list[str] = []
        self.probs: list[float] = []
        self.selected: int | None = None
        """The step shown in the candidate table; len(chars) is the pending one."""
        self._lines: list[Strip] = []
        self._built_for = -1
        self._styles: tuple[Style, Style, list[Style], Style, Style] | None = None

    def show(self, prompt: str, chars: list[str], probs: list[float], selected: int) -> None:
        """The prompt, the generated characters with the model's probability for each."""
        lines_before = len(self._lines)
        self.prompt, self.chars, self.probs, self.selected = prompt, chars, probs, selected
        self._build(self.size.width)
        self.refresh(layout=len(self._lines) != lines_before)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._built_for != width:
            self._build(width)
        return len(self._lines)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._built_for != width:
            self._build(width)
        return self._lines[y] if y < len(self._lines) else Strip.blank(width, self.rich_style)

    def _theme(self) -> tuple[Style, Style, list[Style], Style, Style]:
        """Base, prompt, the probability ramp, selected and caret styles, once per theme."""
        if self._styles is None:
            base = self.rich_style
            shades = ramp(
                self.styles.background,
                self.get_component_styles("generation-text--unlikely").background,
                self.get_component_styles("generation-text--likely").background,
                strength=0.6,
            )
            self._styles = (
                base,
                base + self.get_component_rich_style("generation-text--prompt"),
                shades,
                self.get_component_rich_style("generation-text--selected"),
                base + self.get_component_rich_style("generation-text--caret"),
            )
        return self._styles

    def _cells(self) -> list[tuple[str, Style]]:
        """(text, style) for every character, the caret last; "\n" breaks a line."""
        _, prompt, shades, selected, caret = self._theme()
        cells = [(ch, prompt) for ch in self.prompt]
        for i, (ch, p) in enumerate(zip(self.chars, self.probs)):
            style = shades[level(p)]
            cells.append((ch, style + selected if i == self.selected else style))
        cells.append(("▁", caret + selected if self.selected == len(self.chars) else caret))
        return cells

    def _build(self, width: int) -> None:
        """Wrap the characters into lines of at most width cells; ⏎ shows each newline."""
        width = max(width, 2)
        base = self.rich_style
        lines: list[Strip] = []
        line: list[Segment] = []
        used = 0
        for ch, style in self._cells():
            shown = visible(ch) if ch in "\n\t\r" else ch
            if used + cell_len(shown) > width:
                lines.append(Strip(line).adjust_cell_length(width, base))
                line, used = [], 0
            line.append(Segment(shown, style))
            used += cell_len(shown)
            if ch == "\n":
                lines.append(Strip(line).adjust_cell_length(width, base))
                line, used = [], 0
        lines.append(Strip(line).adjust_cell_length(width, base))
        self._lines, self._built_for = lines, width

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # the theme's colours are baked into the lines
        self._built_for = -1
