"""Where the newest position looks: one heat strip per layer and head, under the context."""

import torch
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from data.tokenizer import visible
from tui.generation_heat import level, ramp

LABEL = 7  # "L1 H1  "


class AttentionStrip(Widget):
    """Attention weights of the newest position over its context, each row scaled to its max.

    Drawn line by line from segments (Textual's line API): a small model has 16 strips of 64
    cells, and building those as rich Text cost tens of milliseconds a step.
    """

    COMPONENT_CLASSES = {"attention-strip--label", "attention-strip--heat"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.context: list[str] = []
        self.attention: torch.Tensor | None = None
        self.placeholder = ""
        self._strips: list[Strip] = []
        self._built_for = -1

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
            self._strips = self._build(width)
            self._built_for = width
        return self._strips[y] if y < len(self._strips) else Strip.blank(width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._built_for = -1  # the theme's colours are baked into the strips

    def _build(self, width: int) -> list[Strip]:
        if self.attention is None:
            return [Strip([Segment(self.placeholder)])]
        label = self.get_component_rich_style("attention-strip--label")
        base = self.rich_style
        heat = ramp(
            self.styles.background,
            self.styles.background,
            self.get_component_styles("attention-strip--heat").background,
        )

        # the newest characters that fit; the weight on the ones cut off is reported instead
        room = max(width - LABEL - 12, 8)
        cut = max(len(self.context) - room, 0)
        head = [
            Segment(f"{'…' if cut else '':<{LABEL}}", label),
            Segment("".join(visible(ch) for ch in self.context[cut:]), base),
            Segment(" max (before)" if cut else " max", label),
        ]
        strips = [Strip(head)]
        n_layer, n_head, _ = self.attention.shape
        for layer in range(n_layer):
            for head_index, row in enumerate(self.attention[layer].tolist()):
                strips.append(self._row(f"L{layer + 1} H{head_index + 1}", row, cut, label, heat))
        return [strip.adjust_cell_length(width, base) for strip in strips]

    def _row(self, name: str, row: list[float], cut: int, label: Style, heat: list[Style]) -> Strip:
        top = max(row) or 1.0
        segments = [Segment(f"{name:<{LABEL}}", label)]
        segments.extend(Segment(" ", heat[level(w / top)]) for w in row[cut:])
        before = f" ({sum(row[:cut]):.2f})" if cut else ""
        segments.append(Segment(f" {top:.2f}{before}", label))
        return Strip(segments)
