"""Where the newest position looks: one heat strip per layer and head, under the context."""

import torch
from rich.text import Text
from textual.widget import Widget

from data.tokenizer import visible
from tui.generation_heat import level, ramp

LABEL = 7  # "L1 H1  "


class AttentionStrip(Widget):
    """Attention weights of the newest position over its context, each row scaled to its max."""

    COMPONENT_CLASSES = {"attention-strip--label", "attention-strip--heat"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.context: list[str] = []
        self.attention: torch.Tensor | None = None
        self.placeholder = ""

    def show(self, context: list[str], attention: torch.Tensor | None) -> None:
        """context characters and the weights (n_layer, n_head, len(context)) over them."""
        self.context, self.attention = context, attention
        self.refresh(layout=True)

    def clear(self, placeholder: str) -> None:
        self.context, self.attention, self.placeholder = [], None, placeholder
        self.refresh(layout=True)

    def render(self) -> Text:
        if self.attention is None:
            return Text(self.placeholder)
        label = self.get_component_rich_style("attention-strip--label")
        heat = ramp(self.styles.background, self.styles.background,
                    self.get_component_styles("attention-strip--heat").background)

        # the newest characters that fit; the weight on the ones cut off is reported instead
        room = max(self.size.width - LABEL - 6, 8)
        cut = max(len(self.context) - room, 0)
        out = Text(no_wrap=True, overflow="crop")
        out.append(f"{'…' if cut else '':<{LABEL}}", label)
        out.append("".join(visible(ch) for ch in self.context[cut:]))
        out.append(" max" if not cut else " max (earlier)", label)
        n_layer, n_head, _ = self.attention.shape
        for layer in range(n_layer):
            for head in range(n_head):
                row = self.attention[layer, head].tolist()
                out.append("\n")
                out.append(f"{f'L{layer + 1} H{head + 1}':<{LABEL}}", label)
                top = max(row) or 1.0
                for w in row[cut:]:
                    out.append(" ", heat[level(w / top)])
                earlier = f" ({sum(row[:cut]):.2f})" if cut else ""
                out.append(f" {top:.2f}{earlier}", label)
        return out
