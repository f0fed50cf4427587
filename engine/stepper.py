"""Next-character logits for a growing sequence, one character at a time, exactly.

The model sees the last `block_size` characters, as in training. While the sequence still fits,
a key/value cache holds every layer's keys and values, so a step runs one position through the
blocks instead of all of them. Once the sequence is longer than the context, every character's
position in the window shifts with each new one, and the positions are learned (`wpe`), so no
cached key stays valid: the whole window is recomputed at every step. Both paths give the same
logits as a full `model(window)` call, to float rounding (the tests hold them within 1e-5).

The blocks are run here from the model's own weights and modules (`ln_1`, `attn.c_attn`,
`attn.c_proj`, `ln_2`, `mlp`), mirroring Block.forward, for two reasons: the attention can be
written out as softmax(q·kᵀ/√d), so the weights of the newest position over its context can
be shown without touching engine/model.py; and only the last position needs the last block's
output and the head, which saves about a fifth of the window's arithmetic. At this model size a
step costs as much in per-operation overhead as in arithmetic, so the code avoids operations
that a module call would add. The tests hold every path to the model's own forward.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
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
        self.device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        # per layer: keys and values, (2, n_head, block_size, head_size)
        shape = (cfg.n_layer, 2, cfg.n_head, cfg.block_size, self.head_size)
        self._kv = torch.zeros(shape, device=self.device, dtype=dtype)
        self._scratch = torch.zeros_like(self._kv)  # for windows, which never enter the cache
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
            logits, rows = self._run(idx, 0, self._scratch)
            return Forward(logits, start, self.block_size, rows, recomputed=True)

        # run only the positions not yet cached; at least the last, whose output we need
        first = min(self._cached, T - 1)
        idx = torch.tensor(self.ids[first:], device=self.device)
        logits, rows = self._run(idx, first, self._kv)
        self._cached = T
        return Forward(logits, 0, T, rows, recomputed=first == 0)

    def _run(
        self, idx: torch.Tensor, pos0: int, kv: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run ids idx (T,) at positions pos0.. through the blocks, attending to kv's keys.

        Writes their keys and values into kv at pos0..pos0+T-1 and returns the last position's
        logits and, if wanted, its attention weights (n_layer, n_head, pos0+T).
        """
        t = self.model.transformer
        T, end = idx.numel(), pos0 + idx.numel()
        nh, hs = self.n_head, self.head_size
        x = t.wte.weight[idx] + t.wpe.weight[pos0:end]  # (T, C)
        C = x.size(-1)
        # query i (at position pos0+i) may look at keys 0..pos0+i; one query sees them all
        mask = None
        if T > 1:
            mask = torch.ones(T, end, dtype=torch.bool, device=self.device).tril(pos0)
        last = len(t.h) - 1
        rows = []

        for layer, block in enumerate(t.h):
            h = _layer_norm(x, block.ln_1)
            qkv = F.linear(h, block.attn.c_attn.weight).view(T, 3, nh, hs).permute(1, 2, 0, 3)
            kv[layer, :, :, pos0:end] = qkv[1:]  # qkv is (3, nh, T, hs)
            q, keys, values = qkv[0], kv[layer, 0, :, :end], kv[layer, 1, :, :end]
            if layer == last:
                # only the last position's output matters from here on; it sees every key
                q, x, mask = q[:, -1:], x[-1:], None
            if self.attention:
                att = (q @ keys.transpose(-2, -1)) * self.scale  # (nh, T, end)
                if mask is not None:
                    att = att.masked_fill(~mask, float("-inf"))
                att = F.softmax(att, dim=-1)
                rows.append(att[:, -1])
                y = att @ values  # (nh, T, hs)
            else:
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            x = x + _linear(y.transpose(0, 1).reshape(-1, C), block.attn.c_proj)

            # the feed-forward as FeedForward.forward has it: c_fc, ReLU, c_proj
            mlp = block.mlp
            x = x + _linear(F.relu(_linear(_layer_norm(x, block.ln_2), mlp.c_fc)), mlp.c_proj)

        logits = _linear(_layer_norm(x[-1], t.ln_f), self.model.lm_head)  # (vocab_size,)
        attention = torch.stack(rows).float().cpu() if self.attention else None
        return logits.float().cpu(), attention


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    return F.linear(x, layer.weight, layer.bias)


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
