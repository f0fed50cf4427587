"""Turning logits into a next character: temperature, top-k, top-p, and the draw itself."""

import torch
from torch.nn import functional as F

from engine.model import GPT


def shape_probs(
    logits: torch.Tensor, temperature: float, top_k: int = 0, top_p: float = 1.0
) -> torch.Tensor:
    """The sampling distribution (V,) for one position's logits (V,).

    temperature 0 puts all the mass on the most likely character (greedy); top_k keeps the k
    most likely characters (0 keeps all); top_p keeps the smallest set of the most likely
    characters whose probabilities reach p (Holtzman et al., 2019). The rest get zero.
    """
    logits = logits.float()
    if temperature == 0:
        return F.one_hot(logits.argmax(), logits.numel()).float()

    scaled = logits / temperature
    if 0 < top_k < scaled.numel():
        kth = torch.topk(scaled, top_k).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = F.softmax(scaled, dim=-1)

    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        drop = torch.zeros_like(probs, dtype=torch.bool)
        drop[order] = mass_before >= top_p  # the characters after the set reached p
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum()
    return probs


@torch.no_grad()
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
    was_training = model.training
    model.eval()
    for _ in range(length):
        context = idx[:, -model.config.block_size :]
        logits, _ = model(context)
        probs = shape_probs(logits[0, -1], temperature, top_k, top_p)
        nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(idx.device)
        idx = torch.cat([idx, nxt.view(1, 1)], dim=1)
    model.train(was_training)
    return idx
