"""Two prompts, or one prompt on two checkpoints: next-character distributions and their KL."""

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static

from data.tokenizer import visible
from engine.generation import Comparison

TOP = 10


class GenerationCompare(Vertical):
    """Inputs for prompt A, prompt B and B's checkpoint, and the comparison under them."""

    class Requested(Message):
        """Compare prompt_a on the pane's model with prompt_b on model_b (empty: the same)."""

        def __init__(self, prompt_a: str, prompt_b: str, model_b: str) -> None:
            super().__init__()
            self.prompt_a, self.prompt_b, self.model_b = prompt_a, prompt_b, model_b

    def __init__(self, prompt_a: str = "", prompt_b: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = (prompt_a, prompt_b)
        self.result: Comparison | None = None
        """The comparison shown, if any."""
        self.titles = ("", "")
        self.message = ""
        """The problem shown instead of a comparison, if any."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="compare-row"):
            yield Label("A prompt ", classes="compare-label")
            yield Input(
                self.initial[0], id="compare-a", compact=True, placeholder="text; \\n is a newline"
            )
        with Horizontal(classes="compare-row"):
            yield Label("B prompt ", classes="compare-label")
            yield Input(
                self.initial[1],
                id="compare-b",
                compact=True,
                placeholder="empty: the same as A (to compare two models)",
            )
        with Horizontal(classes="compare-row"):
            yield Label("B model  ", classes="compare-label")
            yield Input(
                id="compare-model",
                compact=True,
                placeholder="empty: the same model; or a checkpoint file or run folder",
            )
        yield Static("Type prompt B, or a second model, and press enter.", id="compare-result")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.request()

    def request(self) -> None:
        """Ask the pane to compare what the fields hold now."""
        self.post_message(
            self.Requested(
                self.query_one("#compare-a", Input).value,
                self.query_one("#compare-b", Input).value,
                self.query_one("#compare-model", Input).value.strip(),
            )
        )

    def show_result(self, result: Comparison, title_a: str, title_b: str) -> None:
        """Both distributions' top characters side by side, and the divergences."""
        self.result, self.titles, self.message = result, (title_a, title_b), ""
        table = Table.grid(padding=(0, 2))
        table.add_column()
        table.add_column()
        table.add_row(Text(title_a, style="bold"), Text(title_b, style="bold"))
        table.add_row(
            _top(result.chars, result.probs_a.tolist()), _top(result.chars, result.probs_b.tolist())
        )
        tv = 0.5 * float((result.probs_a - result.probs_b).abs().sum())
        summary = Text(
            f"KL(A‖B) = {_bits(result.kl_ab)} bits · KL(B‖A) = {_bits(result.kl_ba)}"
            f" bits · total variation {tv:.3f}"
        )
        if result.note:
            summary.append(f"\n{result.note}", style="italic")
        result_view = self.query_one("#compare-result", Static)
        result_view.remove_class("-error")
        result_view.update(Group(table, summary))

    def show_error(self, message: str) -> None:
        """A problem with the fields (unknown characters, an unusable checkpoint)."""
        self.result, self.message = None, message
        result_view = self.query_one("#compare-result", Static)
        result_view.add_class("-error")
        result_view.update(Text(message))


def _top(chars: str, probs: list[float]) -> Text:
    order = sorted(range(len(probs)), key=lambda i: -probs[i])[:TOP]
    out = Text()
    for rank, i in enumerate(order, 1):
        cells = round(probs[i] * 16)
        out.append(f"{rank:>2} {visible(chars[i]):<2} {probs[i]:.3f} {'█' * cells}\n")
    out.rstrip()
    return out


def _bits(x: float) -> str:
    return "∞" if x == float("inf") else f"{x:.3f}"
