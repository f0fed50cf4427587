"""Next-character logits for a growing sequence, one character at a time, exactly.

The model sees the last `block_size` characters, as in training. While the sequence still fits,
a key/value cache holds every layer's keys and values, so a step runs one position through the
blocks instead of all of them. Once the sequence is longer than the context, every character's
position in the window shifts with each new one, and the positions are learned (`wpe`), so no
cached key stays valid: the whole window is recomputed at every step. Both paths give the same
logits as a full `model(window)` call, to float rounding (the tests hold them within 1e-5).

The blocks are run here from the model's own modules (`ln_1`, `attn.c_attn`, `attn.c_proj`,
`ln_2`, `mlp`) with the attention written out as softmax(q·kᵀ/√d), so that the weights of the
newest position over its context can be returned for display without touching engine/model.py.
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


class Stepper:
    """A sequence of token ids and the model's next-character logits, with a KV cache."""

    def __init__(self, model: GPT, attention: bool = False) -> None:
        self.model = model
        self.attention = attention
        cfg = model.config
        self.block_size = cfg.block_size
        self.head_size = cfg.n_embd // cfg.n_head
        self.scale = 1.0 / math.sqrt(self.head_size)
        self.device = next(model.parameters()).device
        dtype = next(model.parameters()).dtype
        shape = (cfg.n_layer, 1, cfg.n_head, cfg.block_size, self.head_size)
        self._k = torch.zeros(shape, device=self.device, dtype=dtype)
        self._v = torch.zeros(shape, device=self.device, dtype=dtype)
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
            return self._window()

        # run only the positions not yet cached; at least the last, whose output we need
        first = min(self._cached, T - 1)
        if first == T - 1 and first > 0:
            logits, rows = self._one(self.ids[-1], first)
        else:
            idx = torch.tensor(self.ids[first:], device=self.device)
            logits, rows = self._run(idx, first, self._k, self._v)
        self._cached = T
        return Forward(logits, 0, T, rows, recomputed=first == 0)

    @torch.inference_mode()
    def _window(self) -> Forward:
        """The last block_size ids recomputed from scratch, positions 0..block_size-1."""
        start = len(self.ids) - self.block_size
        idx = torch.tensor(self.ids[start:], device=self.device)
        if not self.attention:
            # nothing to show, so the model's own forward (fused attention) is the fastest path
            logits = self.model(idx[None])[0][0, -1].float().cpu()
            return Forward(logits, start, self.block_size, None, recomputed=True)
        k, v = torch.empty_like(self._k), torch.empty_like(self._v)
        logits, rows = self._run(idx, 0, k, v)
        return Forward(logits, start, self.block_size, rows, recomputed=True)

    def _one(self, token: int, pos: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The common step: one new id at position pos, everything before it cached.

        The same arithmetic as _run for T = 1 with fewer, unbatched operations: at this model
        size a step costs about as much in per-operation overhead as in arithmetic.
        """
        t = self.model.transformer
        C = self.model.config.n_embd
        nh = self.model.config.n_head
        x = t.wte.weight[token] + t.wpe.weight[pos]  # (C,)
        rows = []

        for layer, block in enumerate(t.h):
            h = F.layer_norm(x, (C,), block.ln_1.weight, block.ln_1.bias, block.ln_1.eps)
            q, k, v = F.linear(h, block.attn.c_attn.weight).view(3, nh, 1, self.head_size)
            keys, values = self._k[layer, 0], self._v[layer, 0]  # (nh, block_size, hs)
            keys[:, pos : pos + 1] = k
            values[:, pos : pos + 1] = v
            keys, values = keys[:, : pos + 1], values[:, : pos + 1]
            if self.attention:
                att = F.softmax((q @ keys.transpose(-2, -1)) * self.scale, dim=-1)  # (nh, 1, T)
                rows.append(att[:, 0])
                y = att @ values  # (nh, 1, hs)
            else:
                y = F.scaled_dot_product_attention(q, keys, values)  # (nh, 1, hs)
            x = x + block.attn.c_proj(y.view(C))
            x = x + block.mlp(block.ln_2(x))

        logits = self.model.lm_head(t.ln_f(x))  # (vocab_size,)
        attention = torch.stack(rows).float().cpu() if self.attention else None
        return logits.float().cpu(), attention

    def _run(
        self, idx: torch.Tensor, pos0: int, k_cache: torch.Tensor, v_cache: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run ids idx (T,) at positions pos0.. through the blocks, attending to the cache.

        Writes their keys and values into k_cache/v_cache at pos0..pos0+T-1 and returns the
        last position's logits and, if wanted, its attention weights (n_layer, n_head, pos0+T).
        """
        t = self.model.transformer
        T = idx.numel()
        end = pos0 + T
        pos = torch.arange(pos0, end, device=self.device)
        x = t.wte(idx[None]) + t.wpe(pos)  # (1, T, C)
        C = x.size(-1)
        # query i (at position pos0+i) may look at keys 0..pos0+i
        mask = None
        if T > 1:
            mask = torch.ones(T, end, dtype=torch.bool, device=self.device).tril(pos0)
        rows = []

        for layer, block in enumerate(t.h):
            q, k, v = block.attn.heads(block.ln_1(x))  # each (1, nh, T, hs)
            k_cache[layer, :, :, pos0:end] = k
            v_cache[layer, :, :, pos0:end] = v
            keys, values = k_cache[layer, :, :, :end], v_cache[layer, :, :, :end]
            att = (q @ keys.transpose(-2, -1)) * self.scale  # (1, nh, T, end)
            if mask is not None:
                att = att.masked_fill(~mask, float("-inf"))
            att = F.softmax(att, dim=-1)
            if self.attention:
                rows.append(att[0, :, -1])  # (nh, end)
            y = (att @ values).transpose(1, 2).reshape(1, T, C)  # (1, T, C)
            x = x + block.attn.c_proj(y)
            x = x + block.mlp(block.ln_2(x))

        logits = self.model.lm_head(t.ln_f(x[:, -1]))[0]  # (vocab_size,)
        attention = torch.stack(rows).float().cpu() if self.attention else None
        return logits.float().cpu(), attention
