"""The prompt and the generated text, each generated character shaded by its probability."""

from rich.text import Text
from textual.widget import Widget

from data.tokenizer import visible
from tui.generation_heat import level, ramp


class GenerationText(Widget):
    """Generated characters on a ramp from unlikely to likely; the selected step underlined."""

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

    def show(self, prompt: str, chars: list[str], probs: list[float], selected: int) -> None:
        """The prompt, the generated characters with the model's probability for each."""
        self.prompt, self.chars, self.probs, self.selected = prompt, chars, probs, selected
        self.refresh(layout=True)

    def render(self) -> Text:
        base = self.styles.background
        low = self.get_component_styles("generation-text--unlikely").background
        high = self.get_component_styles("generation-text--likely").background
        shades = ramp(base, low, high, strength=0.6)
        selected = self.get_component_rich_style("generation-text--selected")

        out = Text()
        out.append(_shown(self.prompt), self.get_component_rich_style("generation-text--prompt"))
        for i, (ch, p) in enumerate(zip(self.chars, self.probs)):
            style = shades[level(p)]
            if i == self.selected:
                style = style + selected
            out.append(_shown(ch), style)
        caret = self.get_component_rich_style("generation-text--caret")
        out.append("▁", caret + selected if self.selected == len(self.chars) else caret)
        return out


def _shown(text: str) -> str:
    """Newlines as ⏎ and a line break, tabs and carriage returns as symbols."""
    return "".join(visible(ch) + "\n" if ch == "\n" else visible(ch) if ch in "\t\r" else ch
                   for ch in text)
