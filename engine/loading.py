"""Loading a trained model for inference, from a run directory or a checkpoint file."""

from dataclasses import dataclass
from pathlib import Path

import torch

from data.errors import CheckpointError
from data.tokenizer import CharTokenizer
from engine.checkpoint import load_checkpoint
from engine.model import GPT, GPTConfig
from engine.run_dir import RunDir
from engine.settings import Settings, check_layer, merge


@dataclass
class LoadedModel:
    """A model ready for generation, with what it was trained on."""

    model: GPT
    tokenizer: CharTokenizer
    settings: Settings
    step: int
    source: Path


def load_model(path: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """The model in a checkpoint file, or in a run directory's checkpoint.pt, in eval mode."""
    path = path.expanduser()
    if path.is_dir():
        path = RunDir.open(path).checkpoint
    state = load_checkpoint(path)

    try:
        settings = merge(check_layer(dict(state["settings"]), str(path)))
        tokenizer = CharTokenizer.from_vocab(state["vocab"])
        config = GPTConfig(vocab_size=tokenizer.vocab_size, **vars(settings.model))
        model = GPT(config)
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: checkpoint does not match its own config ({first})"
        ) from None
    return LoadedModel(model.to(device).eval(), tokenizer, settings, int(state["step"]), path)
