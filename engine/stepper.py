"""Next-character logits for a growing sequence, one character at a time, exactly.

The model sees the last `block_size` characters, as in training. While the sequence still fits,
a key/value cache holds every layer's keys and values, so a step runs one position through the
blocks instead of all of them. Once the sequence is longer than the context, every character's
position in the window shifts with each new one, and the positions are learned (`wpe`), so no
cached key stays valid: the whole window is recomputed at every step. Both paths give the same
logits as a full `model(window)` call, to float rounding (the tests hold them within 1e-5).

The blocks are run here from the model's own weights, mirroring Block.forward, for three
reasons. The attention is written out as softmax(q·kᵀ/√d) + mask, so the weights of the newest
position over its context come with every step at no extra cost. Only the last position needs
the last block's output and the head, which saves about a fifth of the window's arithmetic.
And at this model size a step costs as much in per-operation overhead as in arithmetic: going
through the modules would add a call, a hook check and a few attribute lookups per operation,
and PyTorch's fused attention falls back on CPU to a general path several times slower than
three plain operations for a single query. The tests hold every path to the model's own forward.
"""

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from engine.model import GPT


@dataclass
class Forward:
    """What the model says about the character after the sequence."""

    logits: torch.Tensor
    """(vocab_size,) float32 on the CPU."""
    start: int
    """Index in the sequence of the first character of the window the model saw."""
    length: int
    """Characters in that window (at most block_size)."""
    attention: torch.Tensor | None
    """(n_layer, n_head, length): the last position's attention weights, if asked for."""
    recomputed: bool
    """True when the whole window was run (the context is full, or nothing was cached)."""


@dataclass(frozen=True)
class _Weights:
    """One block's tensors, looked up once: module attribute access is slow next to a step."""

    ln_1: tuple[torch.Tensor, torch.Tensor]
    c_attn: torch.Tensor
    attn_proj: tuple[torch.Tensor, torch.Tensor]
    ln_2: tuple[torch.Tensor, torch.Tensor]
    c_fc: tuple[torch.Tensor, torch.Tensor]
    mlp_proj: tuple[torch.Tensor, torch.Tensor]
    eps: tuple[float, float]


class Stepper:
    """A sequence of token ids and the model's next-character logits, with a KV cache."""

    def __init__(self, model: GPT, attention: bool = False) -> None:
        self.model = model
        self.attention = attention
        cfg = model.config
        self.block_size = cfg.block_size
        self.n_head = cfg.n_head
        self.head_size = cfg.n_embd // cfg.n_head
        self.scale = 1.0 / math.sqrt(self.head_size)
        weight = model.lm_head.weight
        self.device, dtype = weight.device, weight.dtype
        self._blocks = [_weights(block) for block in model.transformer.h]

        # keys and values of every layer, (n_layer, 2, n_head, block_size, head_size)
        shape = (cfg.n_layer, 2, cfg.n_head, cfg.block_size, self.head_size)
        self._kv = torch.zeros(shape, device=self.device, dtype=dtype)
        # added to the attention scores: -inf where a query would see a later position
        ones = torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool, device=self.device)
        future = ones.triu(1)  # [query, key]: the key comes after the query
        self._mask = torch.zeros_like(future, dtype=dtype).masked_fill(future, -math.inf)
        self.ids: list[int] = []
        self._cached = 0  # positions 0.._cached-1 of ids hold valid keys and values

    def reset(self, ids: list[int]) -> Forward:
        """Start over from ids (at least one) and return the next-character logits."""
        if not ids:
            raise ValueError("a sequence needs at least one character")
        self.ids = list(ids)
        self._cached = 0
        return self.forward()

    def append(self, token: int) -> Forward:
        """Add one character and return the logits for the one after it."""
        self.ids.append(int(token))
        return self.forward()

    def truncate(self, n: int) -> None:
        """Keep the first n ids; the cache keeps what is still valid, nothing is computed."""
        if not 1 <= n <= len(self.ids):
            raise ValueError(f"cannot truncate {len(self.ids)} ids to {n}")
        del self.ids[n:]
        self._cached = min(self._cached, n)

    @torch.inference_mode()
    def forward(self) -> Forward:
        """The logits after the current ids: from the cache while they fit, else the window."""
        T = len(self.ids)
        if T > self.block_size:
            # every position has shifted: the whole window again, from position 0
            start = T - self.block_size
            idx = torch.tensor(self.ids[start:], device=self.device)
            logits, rows = self._run(idx, 0, cache=False)
            return Forward(logits, start, self.block_size, rows, recomputed=True)

        # run only the positions not yet cached; at least the last, whose output we need
        first = min(self._cached, T - 1)
        idx = torch.tensor(self.ids[first:], device=self.device)
        logits, rows = self._run(idx, first, cache=True)
        self._cached = T
        return Forward(logits, 0, T, rows, recomputed=first == 0)

    def _run(
        self, idx: torch.Tensor, pos0: int, cache: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run ids idx (T,) at positions pos0.. through the blocks.

        With cache, their keys and values go into the cache at pos0..pos0+T-1 and the queries
        attend to the cache's keys 0..pos0+T-1; without, pos0 is 0 and they attend to their own.
        Returns the last position's logits and, if wanted, its attention weights
        (n_layer, n_head, pos0+T).
        """
        t = self.model.transformer
        T, end = idx.numel(), pos0 + idx.numel()
        nh, hs = self.n_head, self.head_size
        x = t.wte.weight[idx] + t.wpe.weight[pos0:end]  # (T, C)
        C = x.size(-1)
        mask = self._mask[pos0:end, :end]  # query i sits at position pos0+i
        last = len(self._blocks) - 1
        rows = []

        for layer, w in enumerate(self._blocks):
            h = F.layer_norm(x, (C,), *w.ln_1, w.eps[0])
            qkv = F.linear(h, w.c_attn).view(T, 3, nh, hs).permute(1, 2, 0, 3)  # (3, nh, T, hs)
            q, k, v = qkv
            if cache:
                kv = self._kv[layer]
                kv[:, :, pos0:end] = qkv[1:]
                k, v = kv[:, :, :end]
            if layer == last:
                # only the last position's output matters from here on; it sees every key
                q, x, mask = q[:, -1:], x[-1:], mask[-1:]

            att = torch.baddbmm(mask, q, k.transpose(-2, -1), alpha=self.scale).softmax(-1)
            if self.attention:
                rows.append(att[:, -1])
            y = (att @ v).transpose(0, 1).reshape(-1, C)  # (T, C), heads side by side
            x = x + F.linear(y, *w.attn_proj)

            # the feed-forward as FeedForward.forward has it: c_fc, ReLU, c_proj
            h = F.layer_norm(x, (C,), *w.ln_2, w.eps[1])
            x = x + F.linear(F.relu(F.linear(h, *w.c_fc)), *w.mlp_proj)

        ln_f, head = t.ln_f, self.model.lm_head
        h = F.layer_norm(x[-1], (C,), ln_f.weight, ln_f.bias, ln_f.eps)
        logits = F.linear(h, head.weight, head.bias)  # (vocab_size,)
        attention = torch.stack(rows).float().cpu() if self.attention else None
        return logits.float().cpu(), attention


def _weights(block) -> _Weights:
    attn, mlp = block.attn, block.mlp
    return _Weights(
        ln_1=(block.ln_1.weight, block.ln_1.bias),
        c_attn=attn.c_attn.weight,
        attn_proj=(attn.c_proj.weight, attn.c_proj.bias),
        ln_2=(block.ln_2.weight, block.ln_2.bias),
        c_fc=(mlp.c_fc.weight, mlp.c_fc.bias),
        mlp_proj=(mlp.c_proj.weight, mlp.c_proj.bias),
        eps=(block.ln_1.eps, block.ln_2.eps),
    )
