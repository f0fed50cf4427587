"""Use a trained minigpt-tui model from your own Python program.

    from engine.api import load_text_model

    model = load_text_model("~/.local/share/minigpt-tui/runs/20250101-120000-small")
    print(model.generate("ROMEO:\\n", length=200, temperature=0.8, seed=1))

`load_text_model` accepts a run directory, a checkpoint file (`checkpoint.pt`), or a file made
by `minigpt-tui export` in the safetensors or pt2 format (ONNX files are for onnxruntime).
All of them give the same model, so the same seed gives the same text.
The model is character-level: a prompt may use only characters of the training text's
vocabulary (`model.vocab`); others raise `data.errors.DataError` naming them.
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from data.errors import DataError
from data.tokenizer import CharTokenizer
from engine.export import load_pt2_model, load_safetensors
from engine.loading import load_model
from engine.model import GPT
from engine.sampler import generate


@dataclass
class TextModel:
    """A trained character-level GPT with its vocabulary, ready to generate text."""

    model: GPT
    tokenizer: CharTokenizer
    step: int
    """The training step the weights come from."""
    source: Path

    @property
    def vocab(self) -> str:
        """Every character the model knows, in token-id order."""
        return self.tokenizer.vocab

    @property
    def block_size(self) -> int:
        """The longest context the model sees, in characters."""
        return self.model.config.block_size

    def encode(self, text: str) -> torch.Tensor:
        """text as token ids (1, T) on the model's device; DataError for unknown characters."""
        device = self.model.lm_head.weight.device
        return torch.tensor([self.tokenizer.encode(text)], dtype=torch.long, device=device)

    @torch.no_grad()
    def logits(self, text: str) -> torch.Tensor:
        """Next-character logits (T, vocab_size) at each of text's last block_size characters."""
        if not text:
            raise DataError("the text is empty: give at least one character")
        idx = self.encode(text)[:, -self.block_size :]
        return self.model(idx)[0][0]

    def generate(
        self,
        prompt: str,
        length: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> str:
        """The length characters that follow prompt (the prompt itself is not included).

        temperature 0 is greedy; top_k 0 and top_p 1 keep every character; the same seed
        gives the same text.
        """
        if not prompt:
            raise DataError("the prompt is empty: give at least one character")
        if length < 0 or temperature < 0 or top_k < 0 or not 0 < top_p <= 1:
            raise DataError("need length >= 0, temperature >= 0, top_k >= 0 and 0 < top_p <= 1")
        idx = self.encode(prompt)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        out = generate(self.model, idx, length, temperature, top_k, top_p, generator)
        return self.tokenizer.decode(out[0, idx.shape[1] :].tolist())


def load_text_model(path: str | Path, device: str | torch.device = "cpu") -> TextModel:
    """Load a run directory, checkpoint, .safetensors or .pt2 file for generation.

    Raises data.errors.CheckpointError or RunError, naming the file, when it cannot be used.
    """
    path = Path(path).expanduser()
    if path.suffix == ".pt2":
        loaded = load_pt2_model(path, device)
    elif path.suffix == ".safetensors":
        loaded = load_safetensors(path, device)
    else:
        loaded = load_model(path, device)
    return TextModel(loaded.model, loaded.tokenizer, loaded.step, loaded.source)
