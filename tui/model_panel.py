"""The model panel: where the parameters are, and the shape that puts them there."""

import re

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from engine.events import StartEvent

# param_counts() names components per block (`block3.attention`); the panel sums each kind
# over the blocks, since every block has the same shape.
BLOCK_PART = re.compile(r"block\d+\.(.+)")
LABELS = {
    "embeddings": "embeddings",
    "attention": "attention",
    "feed_forward": "feed-forward",
    "norms": "layer norms",
    "final_norm": "layer norms",
    "head": "output head",
}


def grouped_params(params: dict[str, int]) -> list[tuple[str, int]]:
    """(label, count) per kind of component in model order, blocks summed, total last."""
    groups: dict[str, int] = {}
    for name, n in params.items():
        if name == "total":
            continue
        match = BLOCK_PART.fullmatch(name)
        kind = match.group(1) if match else name
        label = LABELS.get(kind, kind.replace("_", " "))
        groups[label] = groups.get(label, 0) + n
    return [*groups.items(), ("total", params.get("total", sum(groups.values())))]


def plural(n: object, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class ModelPanel(VerticalScroll):
    """Parameter counts per component with each one's share, the config, the vocabulary."""

    def compose(self):
        yield Static("Waiting for the trainer to build the model.", id="model-text")

    def on_mount(self) -> None:
        self.border_title = "Model"

    def show(self, start: StartEvent | None) -> None:
        text = self.query_one("#model-text", Static)
        if start is None:
            text.update("Waiting for the trainer to build the model.")
            return
        total = max(1, start.params.get("total", 1))
        rows = []
        for label, n in grouped_params(start.params):
            share = "" if label == "total" else f"{100 * n / total:.1f}%"
            style = "bold" if label == "total" else ""
            rows.append(Content.assemble((f"{label:<12}{n:>10,}{share:>6}", style)))
        m = start.config.get("model", {})
        rows += [
            Content(
                f"{plural(m.get('n_layer'), 'layer')} · {plural(m.get('n_head'), 'head')} · "
                f"{m.get('n_embd')} wide"
            ),
            Content(
                f"context {m.get('block_size')} · vocab {start.vocab_size}"
                + (f" · dropout {m['dropout']}" if m.get("dropout") else "")
            ),
        ]
        text.update(Content("\n").join(rows))
