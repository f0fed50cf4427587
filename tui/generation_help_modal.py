"""Help for the generation pane: what each part shows and every key."""

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# Generation, one character at a time

**Prompt.** The text the model continues. Under it, its tokenization: each character with
its id in the vocabulary (␣ is a space, ⏎ a newline). Type `\\n` for a newline and `\\\\` for a
backslash; enter applies the prompt. Characters the model never saw in training are named
in red and cannot be used. A prompt longer than the context is cut to its last `block_size`
characters, the most the model can see.

**Candidates.** At each step the model gives every character a probability `p` (the softmax
of its logits). Temperature divides the logits before the softmax (below 1 sharpens, above 1
flattens, 0 is greedy), top-k keeps the k most likely characters (0 keeps all) and top-p the
smallest set of most likely characters whose probabilities reach p; `p′` is what is left,
renormalised, and what is actually sampled from. Removed candidates stay listed, dimmed.
The draw lays the kept characters end to end on [0, 1), most likely first (the *interval*
column), and a uniform random number `u` picks the one whose interval holds it. `H` is the
entropy of `p` in bits (how unsure the model is); the *surprisal* of the chosen character is
-log2 p: 1 bit is a coin flip's worth of surprise. The last row is the chosen character when it
ranks below the top ten, or else the rest of the vocabulary and its total probability.

**Text.** Generated characters are shaded by the probability the model gave them, from red
(unlikely) to green (likely). `←` and `→` select an earlier step to see its candidates again;
picking a candidate there rewrites the text from that point.

**Attention.** For the step shown, each layer's and head's attention weights from the newest
position over the context, as a heat strip under the context's characters; each strip is
scaled to its own maximum, printed at its right.

**Exactness.** The model sees the last `block_size` characters, as in training. While the
text fits, a key/value cache makes a step cost one position. Once the context is full, every
character's position shifts with each new one, and the positions are learned, so no cached
key stays valid: **the whole window is recomputed at every step**, never approximated. The
logits equal a full recomputation to 1e-5 either way. The attention panel's title says which
way the step shown was taken.

**Compare** (`v`). Two prompts, or one prompt on two checkpoints: both next-character
distributions side by side with the KL divergence each way, in bits.

**Settings.** Temperature, top-k, top-p and seed apply to the next draw when you press enter
in their field, and are saved to the `[sample]` settings (also used by training samples and
`minigpt-tui generate`). Step n always uses the n-th random number of the seed's stream, so
the same seed gives the same text as `minigpt-tui generate --seed`.

# Keys

| key | does |
| --- | --- |
| `space` | take one step: draw the next character |
| `1`…`9`, `0` | pick that candidate instead of drawing (`0` is the tenth) |
| `↑` `↓` `enter` | move through the candidates; pick the highlighted one |
| `backspace` | back one step, restoring its distribution |
| `←` `→` | select an earlier step to see its candidates |
| `f` | run the number of steps in the `run` field |
| `a` | play or pause, at the speed shown; `+` `-` change it |
| `g` | greedy on or off (temperature 0) |
| `x` | reset to the prompt |
| `r` | reload the model (the run's latest checkpoint) |
| `v` | compare view on or off |
| `i` | edit the prompt; `tab` moves on to the settings fields, `escape` leaves a field |
| `?` | this help |
"""


class GenerationHelpModal(ModalScreen[None]):
    """What the generation pane shows and every key; escape closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="generation-help"):
            yield Markdown(HELP)
        yield Footer()
