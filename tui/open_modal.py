"""Open a run to follow, or a checkpoint for the generation pane."""

import time
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from engine.runs import RunSummary, format_age, list_runs


def describe(run: RunSummary, now: float) -> Content:
    """One line per run: name, state, step, best validation loss, age."""
    steps = f"{run.step:,}" + (f"/{run.max_steps:,}" if run.max_steps else "")
    best = f"{run.best_val_loss:.3f}" if run.best_val_loss is not None else "-"
    return Content.assemble(
        (f"{run.name:<28} ", "bold"),
        (f"{run.state:<8} ", "$secondary"),
        f"step {steps:<13} val {best:<6} ",
        (f"{format_age(run.age(now))} ago", "$text-muted"),
    )


class OpenModal(ModalScreen[Path | None]):
    """Pick a run from the data directory, or type the path of a run or a checkpoint file."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, runs_root: Path) -> None:
        super().__init__()
        self.runs_root = runs_root
        self.runs: list[RunSummary] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static("Open a run or a checkpoint", classes="dialog-title")
            yield OptionList(id="runs")
            yield Input(placeholder="…or a run directory or checkpoint file, then enter", id="path")
            yield Static(id="open-error", classes="error-line")
            yield Static("enter opens · tab moves to the path · esc cancels", classes="hint")

    def on_mount(self) -> None:
        self.runs = list_runs(self.runs_root)
        options = self.query_one(OptionList)
        now = time.time()
        if self.runs:
            options.add_options(
                Option(describe(r, now), id=str(i)) for i, r in enumerate(self.runs)
            )
            options.highlighted = 0
            options.focus()
        else:
            options.add_option(Option(f"no runs in {self.runs_root} yet", disabled=True))
            self.query_one(Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.runs[int(event.option.id or 0)].path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip():
            return
        if not path.exists():
            self.query_one("#open-error", Static).update(f"{path}: no such file or directory")
            return
        self.dismiss(path)
