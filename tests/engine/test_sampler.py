"""Sampling: temperature, top-k and top-p against independent references, and the draw."""

import math
import re

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from data.errors import SettingsError
from engine.model import GPT, GPTConfig
from engine.sampler import Sampling, Uniforms, draw, entropy_bits, generate, layout, shape_probs

logit_lists = st.lists(st.floats(-12, 12, allow_nan=False, width=32), min_size=2, max_size=40)
temperatures = st.floats(0.2, 5.0)


def reference_softmax(logits: list[float], temperature: float, keep: list[bool]) -> list[float]:
    """float64 softmax of logits / temperature over the kept entries, zero elsewhere."""
    scaled = [x / temperature for x in logits]
    top = max(s for s, k in zip(scaled, keep) if k)
    weights = [math.exp(s - top) if k else 0.0 for s, k in zip(scaled, keep)]
    total = sum(weights)
    return [w / total for w in weights]


@settings(max_examples=200, deadline=None)
@given(logits=logit_lists, temperature=temperatures, data=st.data())
def test_top_k_keeps_the_k_most_likely_and_their_ties(logits, temperature, data):
    k = data.draw(st.integers(0, len(logits) + 2))
    probs = shape_probs(torch.tensor(logits), temperature, top_k=k).double().tolist()

    kth = sorted(logits, reverse=True)[k - 1] if 0 < k < len(logits) else -math.inf
    keep = [x >= kth for x in logits]
    expected = reference_softmax(logits, temperature, keep)
    assert all(p == 0.0 for p, kept in zip(probs, keep) if not kept)
    assert probs == pytest.approx(expected, abs=1e-6)
    assert sum(keep) >= min(k, len(logits)) if k else all(keep)


@settings(max_examples=300, deadline=None)
@given(logits=logit_lists, temperature=temperatures, top_p=st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_of_most_likely_that_reaches_p(logits, temperature, top_p):
    full = reference_softmax(logits, temperature, [True] * len(logits))
    # sets whose mass lands within float32 rounding of p could honestly go either way
    cumulative = [sum(sorted(full, reverse=True)[: i + 1]) for i in range(len(full))]
    assume(all(abs(c - top_p) > 1e-5 for c in cumulative))

    probs = shape_probs(torch.tensor(logits), temperature, top_p=top_p).double().tolist()
    kept = [full[i] for i, p in enumerate(probs) if p > 0]
    dropped = [full[i] for i, p in enumerate(probs) if p == 0]
    assert sum(kept) >= top_p - 1e-6  # reaches p
    assert sum(kept) - min(kept) < top_p + 1e-6  # and no smaller set of the most likely does
    assert not dropped or min(kept) >= max(dropped) - 1e-6  # the most likely (to float32)
    mass = sum(kept)
    assert probs == pytest.approx(
        [p / mass if p_ > 0 else 0.0 for p, p_ in zip(full, probs)], abs=1e-6
    )


@settings(max_examples=100, deadline=None)
@given(logits=logit_lists, temperature=temperatures, top_p=st.floats(0.01, 1.0), data=st.data())
def test_top_p_applies_within_the_top_k(logits, temperature, top_p, data):
    k = data.draw(st.integers(1, len(logits)))
    both = shape_probs(torch.tensor(logits), temperature, top_k=k, top_p=top_p)
    only_k = shape_probs(torch.tensor(logits), temperature, top_k=k)
    assert bool(((both > 0) <= (only_k > 0)).all())
    assert float(both.sum()) == pytest.approx(1.0, abs=1e-5)


def test_temperature_zero_is_greedy():
    probs = shape_probs(torch.tensor([0.1, 3.0, 2.9, -1.0]), 0.0, top_k=3, top_p=0.5)
    assert probs.tolist() == [0.0, 1.0, 0.0, 0.0]


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=30),
    u=st.floats(0, 1, exclude_max=True),
)
def test_the_draw_takes_the_token_whose_interval_holds_u(weights, u):
    probs = (torch.tensor(weights, dtype=torch.float64) / max(sum(weights), 1e-300)).float()
    values = [float(p) for p in probs]
    assume(sum(values) > 0.5)
    d = draw(probs, u)

    # independently: lay the tokens out from the most likely down, ties by id
    order = [i for i in sorted(range(len(values)), key=lambda i: (-values[i], i)) if values[i] > 0]
    bounds, cum = [], 0.0
    for i in order:
        cum += values[i] / sum(values)
        bounds.append(cum)
    assume(all(abs(b - u) > 1e-6 for b in bounds))
    expected = next((i for i, b in zip(order, bounds) if u < b), order[-1])
    assert d.token == expected
    assert d.low <= u < d.high or d.token == order[-1]
    assert [t for t, _, _ in layout(probs)] == order


def test_layout_tiles_the_unit_interval():
    spans = layout(torch.tensor([0.2, 0.0, 0.5, 0.3]))
    assert [t for t, _, _ in spans] == [2, 3, 0]
    assert spans[0][1] == 0.0 and spans[-1][2] == pytest.approx(1.0)
    assert all(a[2] == pytest.approx(b[1]) for a, b in zip(spans, spans[1:]))


def test_uniforms_depend_only_on_the_seed_and_the_index():
    a, b = Uniforms.from_seed(7), Uniforms.from_seed(7)
    late = a[700]
    assert [b[i] for i in range(701)][-1] == late
    assert a[3] == b[3] and Uniforms.from_seed(8)[3] != a[3]
    assert all(0.0 <= b[i] < 1.0 for i in range(701))


def test_entropy_of_a_uniform_distribution_is_log2_v():
    assert entropy_bits(torch.full((64,), 1 / 64)) == pytest.approx(6.0)
    assert entropy_bits(torch.tensor([1.0, 0.0])) == 0.0


@pytest.mark.parametrize(
    "sampling, message",
    [
        (Sampling(temperature=-0.5), "temperature -0.5: must be 0 (greedy)"),
        (Sampling(temperature=math.inf), "temperature inf"),
        (Sampling(top_k=-1), "top-k -1: must be at least 1"),
        (Sampling(top_p=0.0), "top-p 0.0: must be above 0 and at most 1"),
        (Sampling(top_p=1.5), "top-p 1.5"),
        (Sampling(seed=-3), "seed -3"),
    ],
)
def test_bad_sampling_settings_are_named(sampling, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        sampling.check()


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(3)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)).eval()


def test_seeded_generation_repeats_and_seeds_differ(model):
    idx = torch.tensor([[1, 2, 3]])
    runs = [generate(model, idx, 30, generator=torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert runs[0].shape == (1, 33) and torch.equal(runs[0][:, :3], idx)
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_generate_equals_a_plain_loop_without_cache(model):
    """The cached, windowed path draws what a full recomputation at every step would."""
    idx = torch.tensor([[4, 1]])
    out = generate(
        model,
        idx,
        25,
        temperature=0.8,
        top_k=6,
        top_p=0.9,
        generator=torch.Generator().manual_seed(11),
    )

    uniforms = Uniforms.from_seed(11)
    ids = idx[0].tolist()
    with torch.no_grad():
        for n in range(25):
            logits = model(torch.tensor([ids[-8:]]))[0][0, -1]
            ids.append(draw(shape_probs(logits, 0.8, 6, 0.9), uniforms[n]).token)
    assert out[0].tolist() == ids


def test_generate_leaves_the_model_in_training_mode_if_it_was(model):
    model.train()
    generate(model, torch.tensor([[0]]), 3, generator=torch.Generator().manual_seed(0))
    assert model.training
