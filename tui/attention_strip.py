"""Where the newest position looks: one heat strip per layer and head, under the context."""

from dataclasses import dataclass
from itertools import groupby

import torch
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from data.tokenizer import visible
from tui.generation_heat import LEVELS, ramp

LABEL = 7  # "L1 H1  "


@dataclass(frozen=True)
class _Rows:
    """One step's strips in numbers, ready to draw at one width."""

    cut: int
    """Context characters left out on the left, for want of room."""
    n_head: int
    levels: list[list[int]]
    """Per strip, the ramp level of each shown character's weight, scaled to the strip's max."""
    tops: list[float]
    before: list[float]
    """Per strip, the weight on the characters cut off."""


class AttentionStrip(Widget):
    """Attention weights of the newest position over its context, each row scaled to its max.

    Drawn line by line from segments (Textual's line API), and only the lines on screen: a small
    model has 16 strips of 64 cells, of which a 30-row terminal shows six, and every one
    changes with every step.
    """

    COMPONENT_CLASSES = {"attention-strip--label", "attention-strip--heat"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.context: list[str] = []
        self.attention: torch.Tensor | None = None
        self.placeholder = ""
        self._rows: _Rows | None = None
        self._strips: dict[int, Strip] = {}
        self._built_for = -1
        self._styles: tuple[Style, Style, list[Style]] | None = None

    def show(self, context: list[str], attention: torch.Tensor | None) -> None:
        """context characters and the weights (n_layer, n_head, len(context)) over them."""
        lines_before = self._line_count()
        self.context, self.attention = context, attention
        self._built_for = -1
        self.refresh(layout=self._line_count() != lines_before)

    def clear(self, placeholder: str) -> None:
        self.show([], None)
        self.placeholder = placeholder

    def _line_count(self) -> int:
        if self.attention is None:
            return 1
        return 1 + self.attention.shape[0] * self.attention.shape[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._line_count()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._built_for != width:
            self._rows = self._measure(width) if self.attention is not None else None
            self._strips = {}
            self._built_for = width
        if y >= self._line_count():
            return Strip.blank(width, self.rich_style)
        if y not in self._strips:
            self._strips[y] = self._line(y).adjust_cell_length(width, self._theme()[0])
        return self._strips[y]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None  # the theme's colours are baked into the strips and the ramp
        self._built_for = -1

    def _theme(self) -> tuple[Style, Style, list[Style]]:
        """The base and label styles and the heat ramp, worked out once per theme."""
        if self._styles is None:
            heat = self.get_component_styles("attention-strip--heat").background
            self._styles = (
                self.rich_style,
                self.get_component_rich_style("attention-strip--label"),
                ramp(self.styles.background, self.styles.background, heat),
            )
        return self._styles

    def _measure(self, width: int) -> _Rows:
        """The newest characters that fit, and every strip's levels over them, in one go."""
        assert self.attention is not None
        room = max(width - LABEL - 12, 8)
        cut = max(len(self.context) - room, 0)
        weights = self.attention.float().flatten(0, 1)  # (n_layer * n_head, T)
        tops = weights.amax(dim=-1)
        scaled = weights[:, cut:] / tops.clamp_min(1e-12).unsqueeze(-1)
        levels = scaled.mul(LEVELS - 1).round().clamp(0, LEVELS - 1).int().tolist()
        n_head = self.attention.shape[1]
        return _Rows(cut, n_head, levels, tops.tolist(), weights[:, :cut].sum(dim=-1).tolist())

    def _line(self, y: int) -> Strip:
        """Line y: the context's characters, then a strip per layer and head."""
        base, label, heat = self._theme()
        rows = self._rows
        if rows is None:
            return Strip([Segment(self.placeholder, base)])
        if y == 0:
            return Strip(
                [
                    Segment(f"{'…' if rows.cut else '':<{LABEL}}", label),
                    Segment("".join(visible(ch) for ch in self.context[rows.cut :]), base),
                    Segment(" max (before)" if rows.cut else " max", label),
                ]
            )

        i = y - 1
        name = f"L{i // rows.n_head + 1} H{i % rows.n_head + 1}"
        segments = [Segment(f"{name:<{LABEL}}", label)]
        # neighbouring cells of one shade as one segment: fewer for the compositor
        segments.extend(
            Segment(" " * len(list(run)), heat[shade]) for shade, run in groupby(rows.levels[i])
        )
        before = f" ({rows.before[i]:.2f})" if rows.cut else ""
        segments.append(Segment(f" {rows.tops[i]:.2f}{before}", label))
        return Strip(segments)
