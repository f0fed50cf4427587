"""The GPT: its parameter count, its shapes, causality, and attention against a reference."""

import math

import torch
from torch.nn import functional as F

from data.tokenizer import CharTokenizer
from engine.model import GPT, GPTConfig, param_counts
from engine.presets import PRESETS

TUTORIAL = PRESETS["tutorial"]["model"]


def tutorial_model(vocab_size: int) -> GPT:
    return GPT(GPTConfig(vocab_size=vocab_size, **TUTORIAL))  # type: ignore[arg-type]


def test_the_tutorial_preset_on_tiny_shakespeare_has_223041_parameters(shakespeare):
    tokenizer = CharTokenizer.from_text(shakespeare.read_text(encoding="utf-8"))
    assert tokenizer.vocab_size == 65
    assert param_counts(tutorial_model(tokenizer.vocab_size))["total"] == 223_041


def test_the_tutorial_preset_on_any_65_character_vocabulary_has_223041_parameters():
    vocab = "\n !$&',-.3:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    assert len(set(vocab)) == 65
    counts = param_counts(tutorial_model(CharTokenizer.from_text(vocab).vocab_size))

    # by hand: embeddings, q/k/v without bias, projections and feed-forward with bias, head
    C, V, T = 128, 65, 64
    assert counts["embeddings"] == V * C + T * C
    assert counts["block0.attention"] == C * 3 * C + C * C + C
    assert counts["block0.feed_forward"] == C * 4 * C + 4 * C + 4 * C * C + C
    assert counts["block0.norms"] == 2 * 2 * C
    assert counts["final_norm"] == 2 * C
    assert counts["head"] == C * V + V
    assert counts["total"] == 223_041
    assert sum(v for k, v in counts.items() if k != "total") == counts["total"]


def test_the_head_is_not_tied_and_only_qkv_lacks_a_bias():
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))
    assert model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr()
    no_bias = [
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.bias is None
    ]
    assert no_bias == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]


def test_logits_have_the_right_shape_and_start_near_uniform():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=4, n_embd=32))
    idx = torch.randint(30, (3, 16))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 16, 30)
    assert abs(loss.item() - math.log(30)) < 0.1  # small init: every character about equal
    logits, loss = model(idx[:, :5])
    assert logits.shape == (3, 5, 30) and loss is None


def test_a_position_never_sees_the_future():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=12, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = torch.randint(20, (1, 12))
    changed = idx.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 20
    a, _ = model(idx)
    b, _ = model(changed)
    assert torch.allclose(a[0, :7], b[0, :7], atol=1e-6)
    assert not torch.allclose(a[0, 7:], b[0, 7:])


def test_attention_matches_a_written_out_masked_softmax():
    """The fused kernel against attention computed the textbook way, step by step."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=10, block_size=6, n_layer=1, n_head=2, n_embd=8)
    attn = GPT(config).transformer.h[0].attn.eval()
    x = torch.randn(2, 6, 8)

    q, k, v = (t.view(2, 6, 2, 4).transpose(1, 2) for t in (x @ attn.c_attn.weight.T).split(8, 2))
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)  # (B, nh, T, T)
    mask = torch.tril(torch.ones(6, 6, dtype=torch.bool))
    weights = F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    y = (weights @ v).transpose(1, 2).reshape(2, 6, 8)
    expected = y @ attn.c_proj.weight.T + attn.c_proj.bias

    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_the_feed_forward_is_a_4x_relu_layer():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=10, block_size=4, n_layer=1, n_head=1, n_embd=8))
    mlp = model.transformer.h[0].mlp
    x = torch.randn(3, 8)
    hidden = F.relu(x @ mlp.c_fc.weight.T + mlp.c_fc.bias)
    expected = hidden @ mlp.c_proj.weight.T + mlp.c_proj.bias
    assert mlp.c_fc.out_features == 32
    assert torch.allclose(mlp(x), expected, atol=1e-6)
