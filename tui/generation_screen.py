"""The generation pane: step through generation one character at a time.

The model is the app's `model_path` (the current run's checkpoint, or one the user opened) or
a path given to the constructor; it loads in a thread worker, and `r` loads it again, which
picks up the checkpoint the trainer last wrote (it replaces the file atomically, so reading it
never disturbs a run). Stepping runs on the UI thread: a step costs a few milliseconds for the
presets this project trains on CPUs, less than a frame.
"""

import time
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.validation import Function
from textual.widgets import ContentSwitcher, Footer, Header, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from data.errors import MinigptError, SettingsError
from data.tokenizer import visible
from engine import paths
from engine.generation import Generation, compare
from engine.loading import LoadedModel, load_model
from engine.sampler import Sampling
from engine.settings import load_settings, read_layer, save_layer
from tui import heap
from tui.attention_strip import AttentionStrip
from tui.candidate_table import TOP, CandidateTable
from tui.generation_compare import GenerationCompare
from tui.generation_help_modal import GenerationHelpModal
from tui.generation_text import GenerationText
from tui.messages import ModelLoaded, ModelLoadFailed

SPEEDS = (1, 2, 5, 10, 20, 50)
"""Characters per second for play."""
RUN_SLICE_S = 0.02
"""Run N computes for at most this long between repaints, so keys still get through."""
COMPACT_BELOW = 28
"""Rows under which the panels drop their borders."""
PICK_KEYS = "1234567890"
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def unescape(text: str) -> str:
    """The prompt field's text with \\n, \\t and \\\\ turned into a newline, tab, backslash."""
    out, i = [], 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in ("\\n", "\\t", "\\\\"):
            out.append({"\\n": "\n", "\\t": "\t", "\\\\": "\\"}[pair])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def escape(text: str) -> str:
    """The inverse of unescape, for putting a prompt into a one-line field."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


class GenerationScreen(Screen):
    """Step-by-step generation from the current run's model or an opened checkpoint."""

    CSS_PATH = "generation.tcss"
    AUTO_FOCUS = "#gen-candidates"
    BINDINGS = [
        Binding("space", "step", "Step", tooltip="Draw the next character"),
        Binding(
            "1",
            "pick(1)",
            "Pick",
            key_display="1…0",
            tooltip="Take candidate 1-9, or 0 for the tenth, instead of drawing",
        ),
        *(Binding(key, f"pick({n})", show=False) for n, key in enumerate(PICK_KEYS[1:], 2)),
        Binding("backspace", "back", "Back", tooltip="Undo the last character"),
        Binding("left", "select(-1)", "Earlier", show=False),
        Binding("right", "select(1)", "Later", show=False),
        Binding("f", "run_steps", "Run N", tooltip="Take the number of steps in the run field"),
        Binding("a", "play", "Play", tooltip="Play or pause; + and - change the speed"),
        Binding("plus,equals_sign", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("g", "greedy", "Greedy", tooltip="Greedy decoding on or off (temperature 0)"),
        Binding("v", "compare", "Compare", tooltip="Two prompts or two checkpoints side by side"),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            tooltip="What the generation pane shows",
        ),
        Binding("x", "reset", "Reset", tooltip="Back to the prompt alone"),
        Binding("r", "reload", "Reload", tooltip="Load the model again (latest checkpoint)"),
        Binding("i", "edit_prompt", "Prompt", show=False),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self, model_path: Path | None = None) -> None:
        super().__init__()
        self.model_source = model_path
        self.path: Path | None = None
        self.loaded: LoadedModel | None = None
        self.gen: Generation | None = None
        self.shown = 0
        """The step in the candidate table and the attention strips."""
        self.sampling = Sampling()
        self.prompt = "ROMEO:\n"
        self.greedy_from = 1.0
        self.speed = SPEEDS.index(10)
        self.play_timer: Timer | None = None
        self.run_left = 0
        self.compare_loaded: LoadedModel | None = None
        self.pending_compare: GenerationCompare.Requested | None = None

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self._read_settings()
        yield Header()
        with Horizontal(id="gen-prompt-row"):
            yield Label("Prompt ", classes="gen-label")
            yield Input(
                escape(self.prompt),
                id="gen-prompt",
                compact=True,
                select_on_focus=False,
                placeholder="text to continue; \\n is a newline; enter applies",
            )
        yield Static(id="gen-tokens")
        with Horizontal(id="gen-settings"):
            for label, name, value, check in self._fields():
                yield Label(label, classes="gen-label")
                yield Input(
                    value,
                    id=f"gen-{name}",
                    compact=True,
                    classes="gen-setting",
                    validators=[check],
                    validate_on=["changed", "submitted"],
                )
            yield Static(id="gen-state")
        with ContentSwitcher(initial="gen-main", id="gen-body"):
            with Vertical(id="gen-main"):
                with Horizontal(id="gen-upper"):
                    yield CandidateTable(id="gen-candidates")
                    with VerticalScroll(id="gen-text-scroll"):
                        yield GenerationText(id="gen-text")
                with VerticalScroll(id="gen-attention-scroll"):
                    yield AttentionStrip(id="gen-attention")
            yield GenerationCompare(escape(self.prompt), id="gen-compare")
        yield Footer(compact=True)  # ten keys: the spacing would push the last ones off

    def _fields(self) -> list[tuple[str, str, str, Function]]:
        s = self.sampling
        return [
            (
                "temp ",
                "temperature",
                f"{s.temperature:g}",
                Function(_is_temperature, "temperature: 0 (greedy) or a positive number"),
            ),
            (
                " top-k ",
                "top-k",
                str(s.top_k),
                Function(_is_top_k, "top-k: a whole number, 1 or more (0 keeps all)"),
            ),
            (
                " top-p ",
                "top-p",
                f"{s.top_p:g}",
                Function(_is_top_p, "top-p: a number above 0 and at most 1"),
            ),
            (" seed ", "seed", str(s.seed), Function(_is_seed, "seed: a whole number, 0 or more")),
            (" run ", "run", "20", Function(_is_count, "run: a whole number of steps, 1 or more")),
        ]

    def _read_settings(self) -> None:
        try:
            sample = load_settings(paths.settings_path()).sample
        except SettingsError as exc:
            self.notify(str(exc), title="Settings not read", severity="error")
            return
        self.sampling = Sampling(sample.temperature, sample.top_k, sample.top_p, sample.seed)
        self.prompt = sample.prompt
        self.greedy_from = sample.temperature or 1.0

    def on_mount(self) -> None:
        self.title = "Generation"
        self._placeholder("No model yet: train a run, or open a checkpoint with o.")
        self._show_tokens()
        if hasattr(self.app, "model_path"):
            self.watch(self.app, "model_path", self._app_model_changed, init=False)
        if hasattr(self.app, "checkpoint_step"):
            self.watch(self.app, "checkpoint_step", self._checkpoint_saved, init=False)
        path = self.model_source or getattr(self.app, "model_path", None)
        if path is not None:
            self._load(Path(path), "main")

    def on_screen_suspend(self) -> None:
        self._stop()  # no playing on behind the training dashboard

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height < COMPACT_BELOW, "-compact")

    def _checkpoint_saved(self) -> None:
        """A newer checkpoint: offered in the header, or loaded if there was none before."""
        if self.loaded is None and self.path is not None:
            self._load(self.path, "main")
        self._show_state()

    def _app_model_changed(self, path: Path | None) -> None:
        if path is not None and self.model_source is None:
            self._load(Path(path), "main")

    # --- loading -----------------------------------------------------------------------

    def _load(self, path: Path, role: str) -> None:
        if role == "main":
            self.path = path
            self.sub_title = f"loading {path}"
        self.run_worker(
            partial(self._load_in_thread, path, role),
            thread=True,
            exclusive=True,
            group=f"load-{role}",
            exit_on_error=False,
        )

    def _load_in_thread(self, path: Path, role: str) -> None:
        worker = get_current_worker()
        try:
            loaded = load_model(path)
        except MinigptError as exc:
            if not worker.is_cancelled:
                self.post_message(ModelLoadFailed(role, path, str(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(ModelLoaded(role, loaded))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(
                f"{type(event.worker.error).__name__}: {event.worker.error}",
                title="Loading failed",
                severity="error",
            )

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if message.role == "compare":
            self.compare_loaded = message.loaded
            if self.pending_compare is not None:
                self._compare(self.pending_compare)
            return
        self._stop()
        self.loaded = message.loaded
        heap.settle()
        self.gen = Generation(message.loaded.model, message.loaded.tokenizer, self.sampling)
        if not self._apply_prompt(self.prompt, quiet=True):
            self.gen = None
            self._placeholder(
                "The prompt does not suit this model (see above it): edit it "
                "with i, then press enter."
            )
        self._show_state()

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        if message.role == "compare":
            self.query_one(GenerationCompare).show_error(message.message)
            return
        self.sub_title = "no model"
        if self.gen is None:
            following = self.model_source is None and hasattr(self.app, "checkpoint_step")
            later = "It loads by itself when the run saves one; r" if following else "r"
            self._placeholder(f"{message.message}\n{later} tries again.")
        self.notify(message.message, title="Model not loaded", severity="error")

    def _placeholder(self, text: str) -> None:
        self.query_one(CandidateTable).clear(text)
        self.query_one(AttentionStrip).clear("")

    # --- the prompt and the settings ---------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "gen-prompt":
            self._show_tokens(unescape(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "gen-prompt":
            event.stop()
            if self._apply_prompt(unescape(event.value)):
                self.query_one(CandidateTable).focus()
        elif event.input.has_class("gen-setting"):
            event.stop()
            if self._apply_settings():
                self.query_one(CandidateTable).focus()

    def on_input_blurred(self, event: Input.Blurred) -> None:
        if event.input.has_class("gen-setting") and self._read_fields(quiet=True) not in (
            None,
            self.sampling,
        ):
            self._apply_settings()

    def _apply_prompt(self, text: str, quiet: bool = False) -> bool:
        """Start over from text; False (and the problem under the prompt) if it cannot be used."""
        self._show_tokens(text)
        if self.loaded is None:
            return False
        gen = self.gen or Generation(self.loaded.model, self.loaded.tokenizer, self.sampling)
        try:
            gen.set_prompt(text)
        except MinigptError as exc:
            if not quiet:
                self.notify(str(exc), title="Prompt not used", severity="error")
            return False
        self.gen = gen
        self.prompt = text
        self.shown = 0
        self._show_step()
        return True

    def _show_tokens(self, text: str | None = None) -> None:
        """The prompt's characters with their ids, or the characters the model lacks."""
        text = self.prompt if text is None else text
        view = self.query_one("#gen-tokens", Static)
        tokenizer = self.loaded.tokenizer if self.loaded else None
        missing = tokenizer.unknown(text) if tokenizer else []
        view.set_class(bool(missing) or not text, "-error")
        if not text:
            view.update("The prompt is empty: type at least one character.")
            return
        if missing:
            names = ", ".join(repr(ch) for ch in missing[:8])
            view.update(f"Not in the model's vocabulary: {names} (remove to continue).")
            return
        block = self.loaded.model.config.block_size if self.loaded else len(text)
        shown = Text(
            f"{len(text)} chars: "
            if len(text) <= block
            else f"{len(text)} chars, cut to the last {block}: "
        )
        for ch in text[-block:]:
            shown.append(visible(ch), "bold")
            if tokenizer:
                shown.append(str(tokenizer.stoi[ch]).translate(SUBSCRIPTS))
            shown.append(" ")
        view.update(shown)

    def _read_fields(self, quiet: bool = False) -> Sampling | None:
        """The settings the fields hold, or None (with a notification) if one is invalid."""
        values = {}
        for name in ("temperature", "top-k", "top-p", "seed"):
            field = self.query_one(f"#gen-{name}", Input)
            result = field.validate(field.value)
            if result is not None and not result.is_valid:
                if not quiet:
                    self.notify(
                        " ".join(result.failure_descriptions), title="Not applied", severity="error"
                    )
                return None
            values[name] = field.value.strip()
        return Sampling(
            float(values["temperature"]),
            int(values["top-k"]),
            float(values["top-p"]),
            int(values["seed"]),
        )

    def _apply_settings(self) -> bool:
        sampling = self._read_fields()
        if sampling is None:
            return False
        if sampling != self.sampling:
            if sampling.temperature > 0:
                self.greedy_from = sampling.temperature
            self.sampling = sampling
            if self.gen is not None:
                self.gen.set_sampling(sampling)
                self.shown = self.gen.pending.index
                self._show_step()
            self._save_settings()
        return True

    def _save_settings(self) -> None:
        """Keep the four values in the settings file's [sample] section, the rest untouched."""
        path = paths.settings_path()
        try:
            layer = read_layer(path)
            layer.setdefault("sample", {}).update(
                temperature=self.sampling.temperature,
                top_k=self.sampling.top_k,
                top_p=self.sampling.top_p,
                seed=self.sampling.seed,
            )
            save_layer(path, layer)
        except (SettingsError, OSError) as exc:
            self.notify(f"{exc}", title="Settings not saved", severity="error")

    def _set_field(self, name: str, value: str) -> None:
        self.query_one(f"#gen-{name}", Input).value = value

    # --- stepping ----------------------------------------------------------------------

    def action_step(self) -> None:
        if self.gen is not None and self.run_left == 0:
            self.gen.step()
            self.shown = self.gen.pending.index - 1
            self._show_step()

    def action_pick(self, key: int) -> None:
        self._pick_row(key - 1)

    def on_candidate_table_picked(self, message: CandidateTable.Picked) -> None:
        self._pick_row(message.row)

    def _pick_row(self, row: int) -> None:
        table = self.query_one(CandidateTable)
        if self.gen is None or self.run_left or not 0 <= row < len(table.rows):
            self.app.bell()
            return
        self._stop()
        self.gen.pick(table.rows[row].token, at=self.shown)
        self._show_step()

    def action_back(self) -> None:
        if self.gen is None or self.run_left:
            return
        self._stop()
        if not self.gen.back():
            self.app.bell()
        self.shown = self.gen.pending.index
        self._show_step()

    def action_select(self, delta: int) -> None:
        if self.gen is not None:
            self.shown = max(0, min(self.shown + delta, self.gen.pending.index))
            self._show_step()

    def action_reset(self) -> None:
        if self.gen is not None:
            self._stop()
            self.gen.reset()
            self.shown = 0
            self._show_step()

    def action_run_steps(self) -> None:
        field = self.query_one("#gen-run", Input)
        if self.gen is None:
            return
        if not _is_count(field.value):
            self.notify("run: a whole number of steps, 1 or more", severity="error")
            return
        self._stop()
        self.run_left = int(field.value)
        self._run_slice()

    def _run_slice(self) -> None:
        """Some of the remaining steps, then a repaint, then the rest."""
        if self.gen is None or self.run_left == 0:
            return
        start = time.perf_counter()
        while self.run_left and time.perf_counter() - start < RUN_SLICE_S:
            self.gen.step()
            self.run_left -= 1
        self.shown = self.gen.pending.index - 1
        self._show_step()
        if self.run_left:
            self.call_after_refresh(self._run_slice)

    def action_play(self) -> None:
        if self.gen is None:
            return
        if self.play_timer is not None:
            self._stop()
        else:
            self.run_left = 0
            self.play_timer = self.set_interval(1 / SPEEDS[self.speed], self.action_step)
        self._show_state()

    def action_speed(self, delta: int) -> None:
        self.speed = max(0, min(self.speed + delta, len(SPEEDS) - 1))
        if self.play_timer is not None:
            self.play_timer.stop()
            self.play_timer = self.set_interval(1 / SPEEDS[self.speed], self.action_step)
        self._show_state()

    def _stop(self) -> None:
        """Stop play and any run of N steps."""
        if self.play_timer is not None:
            self.play_timer.stop()
            self.play_timer = None
        self.run_left = 0
        if self.is_mounted:
            self._show_state()

    def action_greedy(self) -> None:
        temperature = self.greedy_from if self.sampling.greedy else 0.0
        self._set_field("temperature", f"{temperature:g}")
        self._apply_settings()

    def action_reload(self) -> None:
        path = self.model_source or getattr(self.app, "model_path", None) or self.path
        if path is None:
            self.notify(
                "No model to load: train a run, or open a checkpoint with o.", severity="warning"
            )
            return
        self._load(Path(path), "main")

    def action_edit_prompt(self) -> None:
        self.query_one(ContentSwitcher).current = "gen-main"
        self.query_one("#gen-prompt", Input).focus()

    def action_leave_field(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(CandidateTable).focus()

    def action_help(self) -> None:
        self.app.push_screen(GenerationHelpModal())

    # --- compare -----------------------------------------------------------------------

    def action_compare(self) -> None:
        switcher = self.query_one(ContentSwitcher)
        if switcher.current == "gen-compare":
            switcher.current = "gen-main"
            self.query_one(CandidateTable).focus()
            return
        switcher.current = "gen-compare"
        prompt_b = self.query_one("#compare-b", Input)
        prompt_b.focus()
        if prompt_b.value or self.query_one("#compare-model", Input).value:
            self.query_one(GenerationCompare).request()

    def on_generation_compare_requested(self, message: GenerationCompare.Requested) -> None:
        view = self.query_one(GenerationCompare)
        if self.loaded is None:
            view.show_error("No model loaded yet.")
            return
        if message.model_b:
            wanted = Path(message.model_b).expanduser()
            have = self.compare_loaded
            if have is None or wanted not in (have.source, have.source.parent):
                self.pending_compare = message
                view.show_error(f"Loading {wanted} ...")
                self._load(wanted, "compare")
                return
        self._compare(message)

    def _compare(self, message: GenerationCompare.Requested) -> None:
        view = self.query_one(GenerationCompare)
        self.pending_compare = None
        a = self.loaded
        b = self.compare_loaded if message.model_b and self.compare_loaded else a
        assert a is not None and b is not None
        prompt_a = unescape(message.prompt_a)
        prompt_b = unescape(message.prompt_b) if message.prompt_b else prompt_a
        try:
            result = compare((a.model, a.tokenizer, prompt_a), (b.model, b.tokenizer, prompt_b))
        except MinigptError as exc:
            view.show_error(str(exc))
            return
        view.show_result(
            result,
            f"A: '{escape(prompt_a)}' · {_describe(a)}",
            f"B: '{escape(prompt_b)}' · {_describe(b)}",
        )

    # --- showing -----------------------------------------------------------------------

    def _show_step(self) -> None:
        """The shown step's candidates and attention, the text, and the state line."""
        gen = self.gen
        if gen is None:
            return
        self.shown = min(self.shown, gen.pending.index)
        step = gen.steps[self.shown]
        pending = step.chosen is None
        self.query_one(CandidateTable).show(step, gen.candidates(step, TOP), pending)
        chars = gen.tokenizer.chars
        done = gen.done
        self.query_one(GenerationText).show(
            gen.tokenizer.decode(gen.prompt),
            [chars[s.chosen] for s in done],
            [float(s.probs[s.chosen]) for s in done],
            self.shown,
        )
        self.query_one(AttentionStrip).show([chars[i] for i in step.context], step.attention)
        if self.shown >= gen.pending.index - 1:
            self.query_one("#gen-text-scroll", VerticalScroll).scroll_end(animate=False)
        self._show_state()

    def _show_state(self, *_: object) -> None:
        """Play state and speed beside the fields; model and context in the header."""
        playing = "▶ playing" if self.play_timer is not None else "paused"
        if self.run_left:
            playing = f"running, {self.run_left} to go"
        # each step comes here: only what changed is updated, and nothing here changes a size,
        # so a step repaints a few lines instead of laying out the screen again
        state = self.query_one("#gen-state", Static)
        if str(state.content) != (text := f" {playing} · {SPEEDS[self.speed]}/s"):
            state.update(text, layout=False)
        if self.loaded is None or self.gen is None:
            return
        step = self.gen.steps[self.shown]
        window = "window recomputed" if step.start > 0 else "KV cache"
        self.query_one(
            "#gen-attention-scroll"
        ).border_title = f"attention · context {len(step.context)}/{self.gen.block_size}, {window}"
        newer = getattr(self.app, "checkpoint_step", None)
        stale = f" · step {newer} saved: r reloads" if newer and newer != self.loaded.step else ""
        self.sub_title = f"{_describe(self.loaded)}{stale}"


def _describe(loaded: LoadedModel) -> str:
    source = (
        loaded.source.parent.name if loaded.source.name == "checkpoint.pt" else loaded.source.name
    )
    return f"{source} at step {loaded.step}"


def _is_temperature(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return value >= 0 and value != float("inf")


def _is_top_k(text: str) -> bool:
    return text.strip().isdigit()


def _is_top_p(text: str) -> bool:
    try:
        return 0 < float(text) <= 1
    except ValueError:
        return False


def _is_seed(text: str) -> bool:
    return text.strip().isdigit()


def _is_count(text: str) -> bool:
    return text.strip().isdigit() and int(text) >= 1
