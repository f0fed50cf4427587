"""Turning logits into a next character: temperature, top-k, top-p, and the draw itself.

The draw is written out rather than left to `torch.multinomial`, so that it can be followed:
the characters are laid end to end on [0, 1) from the most likely down, each as wide as its
probability, and one uniform number u picks the character whose interval contains it. Step n
of a generation always uses the n-th number of the seeded stream (`Uniforms`), so the same
seed gives the same text, and stepping back and forward again repeats the same draw.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from data.errors import SettingsError
from engine.model import GPT
from engine.stepper import Stepper


@dataclass(frozen=True)
class Sampling:
    """How the next character is chosen from the model's distribution.

    top_k follows the `[sample]` settings: 0 keeps every character, and so does any k at or
    above the vocabulary size; 1 is greedy by another name.
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 1337

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def check(self) -> "Sampling":
        """self, or a SettingsError naming the first value out of range."""
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise SettingsError(
                f"temperature {self.temperature}: must be 0 (greedy) or a positive number"
            )
        if self.top_k < 0:
            raise SettingsError(f"top-k {self.top_k}: must be at least 1 (0 keeps them all)")
        if not 0.0 < self.top_p <= 1.0:
            raise SettingsError(f"top-p {self.top_p}: must be above 0 and at most 1")
        if self.seed < 0:
            raise SettingsError(f"seed {self.seed}: must be 0 or more")
        return self


def shape_probs(
    logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """The sampling distribution (V,) for one position's logits (V,).

    temperature 0 puts all the mass on the most likely character (greedy); top_k keeps the k
    most likely characters (0 keeps all; characters tied with the k-th are kept too); top_p
    keeps the smallest set of the most likely characters whose probabilities reach p
    (Holtzman et al., 2019), after top-k. The rest get zero.
    """
    logits = logits.float()
    if temperature == 0:
        return F.one_hot(logits.argmax(), logits.numel()).float()

    scaled = logits / temperature
    if 0 < top_k < scaled.numel():
        # chosen on the logits themselves: dividing can round two neighbours into a tie
        kth = torch.topk(logits, top_k).values[-1]
        scaled = scaled.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(scaled, dim=-1)

    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True, stable=True)
        mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        drop = torch.zeros_like(probs, dtype=torch.bool)
        drop[order] = mass_before >= top_p  # the characters after the set reached p
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum()
    return probs


def entropy_bits(probs: torch.Tensor) -> float:
    """Shannon entropy of a distribution (V,), in bits."""
    p = probs.double()
    p = p[p > 0]
    return float(-(p * torch.log2(p)).sum())


@dataclass(frozen=True)
class Draw:
    """One draw: u fell in [low, high), the interval of token on the cumulative line."""

    token: int
    u: float
    low: float
    high: float


def layout(probs: torch.Tensor) -> list[tuple[int, float, float]]:
    """(token, low, high) for every token with probability above 0, from the most likely down.

    The intervals tile [0, 1): each is as wide as its token's probability (renormalised, as
    float32 probabilities may sum to 1 +- 1e-7). Ties are ordered by id, so this is the order
    of a table sorted by probability.
    """
    values = probs.tolist()
    order = sorted(range(len(values)), key=lambda i: -values[i])
    total = math.fsum(values)
    out, cum = [], 0.0
    for i in order:
        if values[i] <= 0:
            break
        out.append((i, cum / total, (cum + values[i]) / total))
        cum += values[i]
    return out


def draw(probs: torch.Tensor, u: float) -> Draw:
    """The token whose interval in layout(probs) holds u, a number in [0, 1)."""
    spans = layout(probs)
    for token, low, high in spans:
        if u < high:
            return Draw(token, u, low, high)
    token, low, high = spans[-1]  # u just below 1 and a last bound rounded below it
    return Draw(token, u, low, high)


class Uniforms:
    """The stream of uniform numbers in [0, 1) for a seed; number n is the same however read.

    Numbers are drawn from the generator in fixed blocks, so the stream does not depend on how
    many were asked for at a time.
    """

    BLOCK = 256

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator
        self.values: list[float] = []

    @classmethod
    def from_seed(cls, seed: int) -> "Uniforms":
        return cls(torch.Generator().manual_seed(seed))

    def __getitem__(self, n: int) -> float:
        while len(self.values) <= n:
            block = torch.rand(self.BLOCK, generator=self.generator, dtype=torch.float64)
            self.values.extend(block.tolist())
        return self.values[n]


def sample_ids(
    model: GPT,
    ids: list[int],
    length: int,
    sampling: Sampling,
    uniforms: Uniforms | None = None,
) -> Iterator[int]:
    """The next length token ids after ids, one at a time; the model must be in eval mode.

    Uses the KV cache of engine.stepper while the text fits in the context, and draws as
    `draw`, step n with uniforms[n] (by default the stream of sampling.seed).
    """
    uniforms = uniforms if uniforms is not None else Uniforms.from_seed(sampling.seed)
    stepper = Stepper(model)
    out = stepper.reset(ids)
    for n in range(length):
        probs = shape_probs(out.logits, sampling.temperature, sampling.top_k, sampling.top_p)
        token = draw(probs, uniforms[n]).token
        yield token
        if n + 1 < length:
            out = stepper.append(token)


def generate(
    model: GPT,
    idx: torch.Tensor,
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Extend idx (1, T) by length sampled characters, the context cropped to block_size."""
    if generator is None:  # follow the global RNG, as torch.multinomial would
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))
    sampling = Sampling(temperature, top_k, top_p)
    was_training = model.training
    model.eval()
    try:
        new = list(sample_ids(model, idx[0].tolist(), length, sampling, Uniforms(generator)))
    finally:
        model.train(was_training)
    return torch.cat([idx, torch.tensor([new], dtype=idx.dtype, device=idx.device)], dim=1)
