"""The generation pane through Pilot: a real tiny model, real keys, real settings file."""

import asyncio
import gc
import tomllib
from pathlib import Path

import pytest
import torch
from textual.app import App
from textual.reactive import reactive
from textual.widgets import Input, Static
from torch.nn import functional as F

from data.tokenizer import CharTokenizer
from engine import paths
from engine.checkpoint import save_checkpoint
from engine.model import GPT, GPTConfig
from engine.settings import resolve
from tests.conftest import TINY_OVERRIDES, TINY_TEXT
from tui.attention_strip import AttentionStrip
from tui.candidate_table import CandidateTable
from tui.generation_compare import GenerationCompare
from tui.generation_help_modal import GenerationHelpModal
from tui.generation_screen import GenerationScreen
from tui.generation_text import GenerationText

SIZE = (100, 30)


def tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """A 1-layer model on the tiny corpus's characters, context 16, made from a seed."""
    settings = resolve({}, TINY_OVERRIDES)
    tokenizer = CharTokenizer.from_text(TINY_TEXT)
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, **vars(settings.model)))
    with torch.no_grad():
        model.lm_head.weight.mul_(25)  # peaked distributions, so that filtering shows
    save_checkpoint(
        path,
        {
            "model": model.state_dict(),
            "step": 7,
            "settings": settings.to_dict(),
            "vocab": tokenizer.vocab,
        },
    )
    return path


class PaneApp(App[None]):
    """The pane alone, on a checkpoint given to the screen."""

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path

    def on_mount(self) -> None:
        self.push_screen(GenerationScreen(self.path))


class ModelPathApp(App[None]):
    """An app with a model_path and a checkpoint_step, as the dashboard has."""

    model_path: reactive[Path | None] = reactive(None)
    checkpoint_step: reactive[int | None] = reactive(None)

    def on_mount(self) -> None:
        self.push_screen(GenerationScreen())


async def loaded(pilot, what: str = "model") -> GenerationScreen:
    """The screen once its model is loaded (or its load has failed)."""
    screen = pilot.app.screen
    for _ in range(200):
        await pilot.pause()
        if isinstance(screen, GenerationScreen) and (
            screen.gen is not None or screen.sub_title == "no model"
        ):
            return screen
        await asyncio.sleep(0.02)
    raise AssertionError(f"the {what} never loaded")


def shown(widget) -> str:
    """What a line-API widget draws, as plain text, its wrapped lines joined by spaces."""
    return " ".join(widget.render_line(y).text.rstrip() for y in range(widget.size.height))


def settings_file(text: str) -> None:
    paths.settings_path().parent.mkdir(parents=True, exist_ok=True)
    paths.settings_path().write_text(text, encoding="utf-8")


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """The tiny model, and a prompt in its vocabulary (the default ROMEO is not)."""
    settings_file('[sample]\nprompt = "All:\\n"\n')
    return tiny_checkpoint(tmp_path / "tiny.pt")


def model_probs(screen: GenerationScreen) -> torch.Tensor:
    """The next-character distribution from the model's own forward, computed here."""
    model = screen.loaded.model
    ids = screen.gen.ids[-model.config.block_size :]
    with torch.no_grad():
        return F.softmax(model(torch.tensor([ids]))[0][0, -1].double(), dim=-1)


async def test_pane_shows_tokens_and_the_models_probabilities(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        tokens = str(screen.query_one("#gen-tokens", Static).render())
        tokenizer = screen.loaded.tokenizer
        newline_id = str(tokenizer.stoi["\n"]).translate(str.maketrans("0123", "₀₁₂₃"))
        assert tokens.startswith("5 chars: A") and f"⏎{newline_id}" in tokens

        table = screen.query_one(CandidateTable)
        expected = torch.sort(model_probs(screen), descending=True, stable=True)
        assert [r.prob for r in table.rows] == pytest.approx(
            expected.values[:10].tolist(), abs=1e-5
        )
        assert [r.token for r in table.rows] == expected.indices[:10].tolist()
        assert table.pending and "space draws" in shown(table)
        rest = 1 - float(expected.values[:10].sum())
        vocab = screen.loaded.tokenizer.vocab_size
        assert f"+{vocab - 10} more {rest:5.3f} {rest:5.3f} the rest" in shown(table)
        strip = screen.query_one(AttentionStrip)
        assert strip.attention.shape == (1, 2, 5)


async def test_a_loaded_model_leaves_the_heap_frozen(checkpoint):
    gc.unfreeze()
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # full collections would walk every object alive now, torch's and Textual's included
        assert gc.get_freeze_count() > 10_000


async def test_space_draws_digits_pick_backspace_restores(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one(CandidateTable)
        first = [r.prob for r in table.rows]

        await pilot.press("space")
        step = screen.gen.done[0]
        assert not table.pending and table.step is step and step.how == "sampled"
        rendered = shown(table)
        assert f"u={f'{step.draw.u:.4f}'[1:]}" in rendered and "surprisal" in rendered
        assert [r for r in table.rows if r.chosen][0].token == step.chosen

        await pilot.press("3")  # the third candidate instead of the draw
        assert screen.gen.done[0].chosen == table.rows[2].token
        assert screen.gen.done[0].how == "picked" and len(screen.gen.done) == 1
        text = screen.query_one(GenerationText)
        assert text.chars == [table.rows[2].char]

        await pilot.press("space", "space")
        assert len(screen.gen.done) == 3
        await pilot.press("backspace", "backspace", "backspace")
        assert screen.gen.done == [] and table.pending
        assert [r.prob for r in table.rows] == first

        await pilot.press("space")  # step 0 draws the seed's first number again
        assert screen.gen.done[0].draw == step.draw
        await pilot.press("space", "space", "left")
        assert table.step is screen.gen.steps[1] and text.selected == 1
        await pilot.press("down", "enter")  # pick row 2 at the selected, earlier step
        assert len(screen.gen.done) == 2 and screen.gen.done[1].chosen == table.rows[1].token


async def test_settings_apply_to_the_next_draw_and_are_saved(checkpoint):
    settings_file('[ui]\ntheme = "nord"\n\n[sample]\nlength = 99\nprompt = "All:"\n')
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        field = screen.query_one("#gen-top-k", Input)
        field.focus()
        field.value = "2"
        await pilot.press("enter")
        assert screen.gen.sampling.top_k == 2
        assert sum(1 for r in screen.query_one(CandidateTable).rows if not r.filtered) == 2

        await pilot.press("g")  # greedy on
        assert screen.gen.sampling.temperature == 0.0
        assert screen.query_one("#gen-temperature", Input).value == "0"
        saved = tomllib.loads(paths.settings_path().read_text())
        assert saved["sample"] == {
            "length": 99,
            "prompt": "All:",
            "temperature": 0.0,
            "top_k": 2,
            "top_p": 1.0,
            "seed": 1337,
        }
        assert saved["ui"] == {"theme": "nord"}
        await pilot.press("g")  # and off again, back to the temperature before
        assert screen.gen.sampling.temperature == 1.0


async def test_an_invalid_setting_is_refused_and_not_saved(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        field = screen.query_one("#gen-top-p", Input)
        field.focus()
        field.value = "1.5"
        await pilot.press("enter")
        await pilot.pause()
        assert screen.gen.sampling.top_p == 1.0
        assert field.has_class("-invalid")
        assert "top_p" not in paths.settings_path().read_text()
        assert any("top-p" in n.message for n in pilot.app._notifications)


async def test_unknown_prompt_characters_are_named_in_the_pane(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        before = screen.gen.ids
        await pilot.press("i")
        prompt = screen.query_one("#gen-prompt", Input)
        prompt.value = "Zoo€"
        await pilot.press("enter")
        tokens = screen.query_one("#gen-tokens", Static)
        assert "'Z', '€'" in str(tokens.render()) and tokens.has_class("-error")
        assert screen.gen.ids == before

        prompt.value = "All:\\nYou"
        await pilot.press("enter")
        assert screen.loaded.tokenizer.decode(screen.gen.ids) == "All:\nYou"
        assert not tokens.has_class("-error") and screen.focused is screen.query_one(CandidateTable)


async def test_run_n_steps_and_play_pause(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        screen.query_one("#gen-run", Input).value = "40"  # past the 16-character context
        await pilot.press("f")
        for _ in range(100):
            if not screen.run_left:
                break
            await pilot.pause(0.02)
        assert len(screen.gen.done) == 40
        title = screen.query_one("#gen-attention-scroll").border_title
        assert "context 16/16, window recomputed" in str(title)

        await pilot.press("plus", "plus", "plus")  # 50 characters a second
        await pilot.press("a")
        await pilot.pause(0.5)
        await pilot.press("a")
        played = len(screen.gen.done) - 40
        await pilot.pause(0.2)
        assert played >= 3 and len(screen.gen.done) - 40 == played
        await pilot.press("x")
        assert screen.gen.done == []


async def test_compare_two_prompts_and_two_checkpoints(checkpoint, tmp_path):
    other = tiny_checkpoint(tmp_path / "other.pt", seed=1)
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("v")
        view = screen.query_one(GenerationCompare)
        view.query_one("#compare-a", Input).value = "All:"
        view.query_one("#compare-b", Input).value = "You"
        await pilot.press("enter")
        model, tokenizer = screen.loaded.model, screen.loaded.tokenizer
        with torch.no_grad():
            pa, pb = (
                F.softmax(model(torch.tensor([tokenizer.encode(p)]))[0][0, -1].double(), -1)
                for p in ("All:", "You")
            )
        assert view.result.kl_ab == pytest.approx(float((pa * (pa / pb).log2()).sum()), abs=1e-5)
        assert view.result.kl_ba == pytest.approx(float((pb * (pb / pa).log2()).sum()), abs=1e-5)
        assert view.titles[1].startswith("B: 'You'")

        view.query_one("#compare-b", Input).value = ""  # the same prompt, on another model
        view.query_one("#compare-model", Input).value = str(other)
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.02)
            if view.result is not None and "other.pt" in view.titles[1]:
                break
        assert view.titles == ("A: 'All:' · tiny.pt at step 7", "B: 'All:' · other.pt at step 7")
        assert view.result.kl_ab > 0

        view.query_one("#compare-model", Input).value = str(tmp_path / "missing.pt")
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert view.result is None and "missing.pt: no such checkpoint" in view.message


async def test_help_says_the_window_is_recomputed(checkpoint):
    async with PaneApp(checkpoint).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, GenerationHelpModal)
        from tui.generation_help_modal import HELP

        assert "the whole window is recomputed at every step" in HELP
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, GenerationScreen)


async def test_the_pane_follows_the_apps_model_path(checkpoint, tmp_path):
    other = tiny_checkpoint(tmp_path / "other.pt", seed=1)
    app = ModelPathApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = pilot.app.screen
        assert screen.gen is None and "No model yet" in shown(screen.query_one(CandidateTable))
        app.model_path = checkpoint
        screen = await loaded(pilot)
        assert screen.loaded.source == checkpoint
        app.model_path = other
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.loaded.source == other:
                break
        assert screen.loaded.source == other and screen.gen.model is screen.loaded.model


async def test_the_runs_first_checkpoint_loads_when_it_is_saved(tmp_path):
    later = tmp_path / "run" / "checkpoint.pt"
    app = ModelPathApp()
    app.model_path = later  # a run that has not saved yet
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        table = screen.query_one(CandidateTable)
        assert screen.gen is None and "no such checkpoint" in shown(table)
        assert "It loads by itself when the run saves one" in shown(table)

        later.parent.mkdir()
        tiny_checkpoint(later)
        app.checkpoint_step = 7
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.gen is not None:
                break
        assert screen.loaded.source == later and screen.loaded.step == 7


async def test_a_missing_checkpoint_is_a_message_not_a_crash(tmp_path):
    settings_file('[sample]\nprompt = "All:"\n')
    async with PaneApp(tmp_path / "later.pt").run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert screen.gen is None
        assert "later.pt: no such checkpoint" in shown(screen.query_one(CandidateTable))
        tiny_checkpoint(tmp_path / "later.pt")  # the trainer writes its first one
        await pilot.press("r")
        for _ in range(200):
            await pilot.pause(0.02)
            if screen.gen is not None:
                break
        assert screen.gen is not None and screen.loaded.step == 7
