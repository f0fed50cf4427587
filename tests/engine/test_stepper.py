"""Step-through generation: exact logits with the cache, attention, pick, back, compare."""

import math

import pytest
import torch
from torch.nn import functional as F

from data.errors import DataError
from data.tokenizer import CharTokenizer
from engine.generation import Generation, compare, kl_bits
from engine.model import GPT, GPTConfig
from engine.sampler import Sampling, Uniforms, draw
from engine.stepper import Stepper

BLOCK = 8
TEXT = "hello world, the quick brown fox\n"


@pytest.fixture
def tokenizer() -> CharTokenizer:
    return CharTokenizer.from_text(TEXT)


@pytest.fixture
def model(tokenizer) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size, block_size=BLOCK, n_layer=2, n_head=2, n_embd=16
    )
    gpt = GPT(config).eval()
    with torch.no_grad():
        gpt.lm_head.weight.mul_(20)  # peaked distributions, so that top-k and top-p matter
    return gpt


def full_logits(model: GPT, ids: list[int]) -> torch.Tensor:
    """The model's own forward over the last block_size ids: the reference."""
    with torch.no_grad():
        return model(torch.tensor([ids[-BLOCK:]]))[0][0, -1]


def reference_attention(model: GPT, ids: list[int]) -> torch.Tensor:
    """(n_layer, n_head, T): the last query's weights, from each block's ln_1 output."""
    inputs = []
    hooks = [
        b.ln_1.register_forward_hook(lambda m, i, o: inputs.append(o)) for b in model.transformer.h
    ]
    full_logits(model, ids)
    for h in hooks:
        h.remove()
    rows = []
    for block, x in zip(model.transformer.h, inputs):
        q, k, _ = block.attn.heads(x)  # (1, nh, T, hs)
        att = (q[0, :, -1:] @ k[0].transpose(-2, -1)) / math.sqrt(q.size(-1))
        rows.append(F.softmax(att[:, 0], dim=-1))
    return torch.stack(rows)


@pytest.mark.parametrize("attention", [False, True])
def test_cached_logits_equal_full_recomputation_before_and_after_the_window_fills(model, attention):
    stepper = Stepper(model, attention=attention)
    ids = [3, 1]
    out = stepper.reset(ids)
    modes = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(3 * BLOCK):
        assert torch.allclose(out.logits, full_logits(model, ids), atol=1e-5)
        assert out.length == min(len(ids), BLOCK) and out.start == max(len(ids) - BLOCK, 0)
        modes.append(out.recomputed)
        token = int(torch.randint(model.config.vocab_size, (1,), generator=generator))
        ids.append(token)
        out = stepper.append(token)
    assert modes[: BLOCK - 1] == [True] + [False] * (BLOCK - 2)  # cached until the window fills
    assert all(modes[BLOCK - 1 :])  # then recomputed every step


def test_truncating_keeps_the_cache_exact(model):
    stepper = Stepper(model, attention=True)
    ids = list(range(1, 15))
    stepper.reset(ids)
    for n in (12, 9, 6, 2):  # from past the window to inside it
        stepper.truncate(n)
        ids = ids[:n]
        while len(ids) < 14:
            ids.append(len(ids) % 7)
            out = stepper.append(ids[-1])
            assert torch.allclose(out.logits, full_logits(model, ids), atol=1e-5)


def test_attention_equals_q_k_softmax_computed_from_the_model(model):
    stepper = Stepper(model, attention=True)
    ids = [2, 7, 1, 1, 4]
    out = stepper.reset(ids)
    for token in [3, 9, 2, 8, 0, 5, 6]:  # through the point where the window fills
        assert out.attention.shape == (2, 2, min(len(ids), BLOCK))
        assert torch.allclose(out.attention, reference_attention(model, ids), atol=1e-5)
        assert torch.allclose(out.attention.sum(-1), torch.ones(2, 2), atol=1e-5)
        ids.append(token)
        out = stepper.append(token)


def generation(model, tokenizer, **sampling) -> Generation:
    gen = Generation(model, tokenizer, Sampling(**sampling))
    gen.set_prompt("hello")
    return gen


def test_shown_probabilities_are_the_softmax_of_the_models_logits(model, tokenizer):
    gen = generation(model, tokenizer, temperature=0.7, top_k=5, top_p=0.8)
    for _ in range(2 * BLOCK):
        step = gen.pending
        expected = F.softmax(full_logits(model, gen.ids).double(), dim=-1)
        assert torch.allclose(step.probs.double(), expected, atol=1e-5)
        rows = gen.candidates(step, 10)
        top = torch.sort(expected, descending=True, stable=True)
        assert [r.prob for r in rows] == pytest.approx(top.values[:10].tolist(), abs=1e-5)
        assert step.entropy_bits == pytest.approx(
            float(-(expected * expected.log2()).sum()), abs=1e-4
        )
        gen.step()


def test_steps_draw_the_seeds_nth_number_and_record_the_draw(model, tokenizer):
    gen = generation(model, tokenizer, temperature=1.3, seed=21)
    uniforms = Uniforms.from_seed(21)
    for n in range(12):
        pending = gen.pending
        step = gen.step()
        assert step is pending and step.how == "sampled"
        assert step.draw == draw(step.shaped, uniforms[n])
        assert step.draw.low <= step.draw.u < step.draw.high
        chosen = [r for r in gen.candidates(step, 3) if r.chosen]
        assert len(chosen) == 1 and chosen[0].token == step.chosen
        assert (chosen[0].cum_low, chosen[0].cum_high) == pytest.approx(
            (step.draw.low, step.draw.high)
        )
        assert step.surprisal_bits == pytest.approx(-math.log2(float(step.probs[step.chosen])))


def test_back_restores_the_previous_distribution_and_the_same_draw(model, tokenizer):
    gen = generation(model, tokenizer, seed=4)
    gen.run(BLOCK)  # past the point where the window fills
    before = gen.pending
    ids = gen.ids
    again = gen.step()
    assert gen.back()
    assert gen.ids == ids and gen.pending.chosen is None
    assert torch.equal(gen.pending.logits, before.logits)
    assert torch.equal(gen.pending.shaped, before.shaped)
    assert gen.step().chosen == again.chosen  # the n-th random number, whatever came before
    while gen.back():
        pass
    assert gen.ids == tokenizer.encode("hello") and len(gen.steps) == 1


def test_pick_overrides_the_draw_and_rewrites_later_steps(model, tokenizer):
    gen = generation(model, tokenizer, seed=9)
    gen.run(6)
    unlikely = int(gen.steps[2].probs.argmin())
    gen.pick(unlikely, at=2)
    assert len(gen.steps) == 4 and gen.steps[2].chosen == unlikely
    assert gen.steps[2].how == "picked" and gen.steps[2].draw is None
    assert gen.ids == tokenizer.encode("hello") + gen.generated
    assert torch.allclose(gen.pending.logits, full_logits(model, gen.ids), atol=1e-5)
    # the pick ranks outside the top rows, so the table lists it after them
    rows = gen.candidates(gen.steps[2], 3)
    assert len(rows) == 4 and rows[-1].chosen and rows[-1].rank > 3


def test_greedy_takes_the_most_likely_whatever_the_seed(model, tokenizer):
    texts = []
    for seed in (1, 2):
        gen = generation(model, tokenizer, temperature=0.0, seed=seed)
        gen.run(10)
        assert all(s.how == "greedy" and s.chosen == int(s.probs.argmax()) for s in gen.done)
        texts.append(gen.generated)
    assert texts[0] == texts[1]


def test_changing_the_settings_reshapes_only_the_pending_step(model, tokenizer):
    gen = generation(model, tokenizer)
    gen.run(3)
    old = gen.steps[1].shaped.clone()
    gen.set_sampling(Sampling(top_k=1))
    assert int((gen.pending.shaped > 0).sum()) == 1
    assert torch.equal(gen.steps[1].shaped, old)


def test_prompts_are_checked_and_long_ones_cut(model, tokenizer):
    gen = Generation(model, tokenizer)
    with pytest.raises(DataError, match="'Z', '€'"):
        gen.set_prompt("hello Z€")
    with pytest.raises(DataError, match="empty"):
        gen.set_prompt("")
    gen.set_prompt("the quick brown fox")
    assert gen.prompt == tokenizer.encode("the quick brown fox"[-BLOCK:])
    assert "19 characters" in gen.note and f"last {BLOCK}" in gen.note


def test_compare_reports_kl_both_ways(model, tokenizer):
    result = compare((model, tokenizer, "hello"), (model, tokenizer, "world"))
    pa = F.softmax(full_logits(model, tokenizer.encode("hello")).double(), -1)
    pb = F.softmax(full_logits(model, tokenizer.encode("world")).double(), -1)
    assert result.kl_ab == pytest.approx(float((pa * (pa / pb).log2()).sum()), abs=1e-6)
    assert result.kl_ba == pytest.approx(float((pb * (pb / pa).log2()).sum()), abs=1e-6)
    same = compare((model, tokenizer, "hello"), (model, tokenizer, "hello"))
    assert same.kl_ab == pytest.approx(0.0, abs=1e-9)


def test_compare_across_vocabularies_uses_the_shared_characters(model, tokenizer):
    other_tok = CharTokenizer.from_text("helo wrd!")
    torch.manual_seed(1)
    other = GPT(
        GPTConfig(vocab_size=other_tok.vocab_size, block_size=4, n_layer=1, n_head=1, n_embd=8)
    ).eval()
    result = compare((model, tokenizer, "hello"), (other, other_tok, "hello"))
    assert result.chars == "".join(ch for ch in tokenizer.chars if ch in other_tok.stoi)
    assert float(result.probs_a.sum()) == pytest.approx(1.0)
    assert "shared characters" in result.note


def test_kl_is_infinite_where_q_rules_out_what_p_allows():
    assert kl_bits(torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])) == math.inf
    assert kl_bits(torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])) == pytest.approx(1.0)
