"""The help screen: what each panel shows, in the terms of the tutorial."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# What you are looking at

**Status line.** The run's name, its preset (the recipe for model size and schedule), the
device it trains on, its state (*starting*, *running*, *paused*, *stopped*, *done* or
*failed*), how many optimizer steps are done out of how many, the time so far and the time
left, the speed in tokens (characters) per second, and the current learning rate.

**Loss.** The loss is the cross-entropy of the model's next-character guesses: how surprised
it is by the real next character, averaged. The grey line is each step's training loss
(noisy, one batch at a time), the bright line its smoothed trend, and the dots the
*validation* loss, measured at each evaluation on text held out from training. A model that
guesses uniformly among V characters scores ln(V), the red line: learning means getting
below it. `l` switches to a log scale, which shows late, small improvements better.

**Train versus validation.** While both fall, the model is learning patterns that generalise.
When the validation loss rises while the training loss keeps falling, the model is
memorising its training text (*overfitting*); the event log warns when that happens.

**Perplexity** (in the event log) is e^loss: the number of characters the model is, in
effect, choosing between at each step: about the vocabulary size at the start, and a
handful once it writes plausible words.

**Model.** Parameters are the numbers training adjusts. The panel shows how many sit in each
kind of component (the token and position embeddings, attention, feed-forward layers,
layer norms, the output head) and each one's share, with the model's shape: layers,
attention heads, embedding width, context length, and the vocabulary size. Every layer
(block) has the same shape, so attention, feed-forward and norms are summed over them.

**Learning-rate schedule.** The learning rate (`lr`) is how big each step is. It warms up
linearly from zero, then decays along a cosine to a minimum, so training takes large steps
early and careful ones at the end.

**Samples.** At each evaluation the model continues the same fixed prompt, so you can watch
it go from noise to letters, to words, to the shape of a play. Older samples are below the
latest; scroll with the arrow keys once the panel has focus (`tab`).

**Events.** Evaluations (train and validation loss, perplexity), checkpoints saved,
pauses, warnings and failures, with the step at which each happened.

# Keys

| key | does |
| --- | --- |
| `p` | pause or resume training |
| `s` | stop: save a checkpoint and end the run (asks first) |
| `c` | save a checkpoint now |
| `e` | evaluate and sample now |
| `n` | new run: the settings form |
| `o` | open another run, or a checkpoint for the generation pane |
| `g` / `t` | the generation pane / back to training |
| `l` | log scale for the loss chart |
| `?` | this help |
| `q` | quit: asks whether to stop the run or leave it training |
| `ctrl+p` | the command palette: every command, searchable |

The trainer runs as its own process: closing the terminal or losing the SSH connection
leaves it training, and running `minigpt-tui` again attaches to it.
"""


class HelpScreen(ModalScreen[None]):
    """Each panel explained in a sentence or two; escape closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
        yield Footer()
