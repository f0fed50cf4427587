"""Step-through generation: a prompt, the steps taken from it, and what each step considered.

A Generation is the state behind both the dashboard's generation pane and `minigpt-tui
generate`. Its steps are the generated characters plus one pending step at the end: the
distribution for the next character, not yet chosen. Each step keeps the model's raw
distribution, the sampling distribution after temperature/top-k/top-p, the attention of the
newest position and how the character was chosen, so an earlier step can be shown again, and
going back restores the previous distribution exactly.
"""

import math
from dataclasses import dataclass, field, replace

import torch
from torch.nn import functional as F

from data.errors import DataError
from data.tokenizer import CharTokenizer
from engine.model import GPT
from engine.sampler import (
    Draw,
    Sampling,
    Uniforms,
    draw,
    entropy_bits,
    layout,
    shape_probs,
)
from engine.stepper import Forward, Stepper


@dataclass
class Step:
    """One position of the generated text: the model's distribution and the choice made."""

    index: int
    """0 for the first generated character."""
    start: int
    """Index in the whole text of the first character the model saw."""
    context: list[int]
    """The ids the model saw (the last block_size characters at most)."""
    logits: torch.Tensor
    """(V,) raw logits."""
    probs: torch.Tensor
    """(V,) softmax of the logits: the model's own distribution."""
    shaped: torch.Tensor
    """(V,) the distribution actually sampled from, after temperature, top-k and top-p."""
    sampling: Sampling
    attention: torch.Tensor | None
    """(n_layer, n_head, len(context)) weights of the newest position, if computed."""
    recomputed: bool
    """The window was run in full (context full) rather than extended from the cache."""
    entropy_bits: float
    chosen: int | None = None
    how: str = ""
    """"sampled", "greedy" or "picked"; empty while the step is pending."""
    draw: Draw | None = None

    @property
    def surprisal_bits(self) -> float | None:
        """-log2 of the model's probability for the chosen character."""
        if self.chosen is None:
            return None
        p = float(self.probs[self.chosen])
        return math.inf if p <= 0 else -math.log2(p)


@dataclass(frozen=True)
class Candidate:
    """One row of a step's candidate table."""

    rank: int
    """1 for the most likely character."""
    token: int
    char: str
    prob: float
    """The model's probability."""
    shaped: float
    """The probability after temperature, top-k and top-p; 0 when they removed it."""
    cum_low: float
    cum_high: float
    """The interval [cum_low, cum_high) this character covers on the sampling line."""
    chosen: bool

    @property
    def filtered(self) -> bool:
        return self.shaped <= 0.0


@dataclass
class Generation:
    """A prompt and the steps generated from it, with a model to take more."""

    model: GPT
    tokenizer: CharTokenizer
    sampling: Sampling = field(default_factory=Sampling)
    attention: bool = True
    prompt: list[int] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    note: str = ""
    """Set when the prompt was cut to the context length."""

    def __post_init__(self) -> None:
        self.sampling.check()
        self.stepper = Stepper(self.model, attention=self.attention)
        self.uniforms = Uniforms.from_seed(self.sampling.seed)

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    @property
    def pending(self) -> Step:
        """The last step: the distribution for the next character, not yet chosen."""
        return self.steps[-1]

    @property
    def done(self) -> list[Step]:
        """The steps whose character has been chosen, in order."""
        return self.steps[:-1]

    @property
    def generated(self) -> list[int]:
        return [s.chosen for s in self.done if s.chosen is not None]

    @property
    def ids(self) -> list[int]:
        return self.prompt + self.generated

    def set_prompt(self, text: str) -> None:
        """Start over from text; a DataError names characters outside the vocabulary.

        A prompt longer than the context is cut to its last block_size characters (the model
        would never see the rest) and `note` says so.
        """
        if not text:
            raise DataError("the prompt is empty; type at least one character")
        ids = self.tokenizer.encode(text)
        self.note = ""
        if len(ids) > self.block_size:
            self.note = (
                f"the prompt has {len(ids)} characters; the model sees only the "
                f"last {self.block_size}, so it was cut to those"
            )
            ids = ids[-self.block_size :]
        self.prompt = ids
        self.reset()

    def reset(self) -> None:
        """Back to the prompt alone, the random stream from its start."""
        self.uniforms = Uniforms.from_seed(self.sampling.seed)
        self.steps = [self._pending(self.stepper.reset(self.prompt), 0)]

    def set_sampling(self, sampling: Sampling) -> None:
        """New settings for the steps to come; the pending distribution is reshaped."""
        sampling.check()
        if sampling.seed != self.sampling.seed:
            self.uniforms = Uniforms.from_seed(sampling.seed)
        self.sampling = sampling
        p = self.pending
        p.sampling = sampling
        p.shaped = self._shape(p.logits)

    def step(self) -> Step:
        """Choose the pending character by the settings (a draw, or greedy) and move on."""
        p = self.pending
        if self.sampling.greedy:
            return self._choose(p, int(p.shaped.argmax()), "greedy", None)
        d = draw(p.shaped, self.uniforms[p.index])
        return self._choose(p, d.token, "sampled", d)

    def run(self, n: int) -> None:
        """Take n steps."""
        for _ in range(n):
            self.step()

    def pick(self, token: int, at: int | None = None) -> Step:
        """Choose token at step `at` (default: the pending one) instead of drawing.

        Picking at an earlier step rewrites the text from there: the later steps are dropped.
        """
        at = self.pending.index if at is None else at
        if not 0 <= at < len(self.steps):
            raise IndexError(f"no step {at}")
        if not 0 <= token < self.tokenizer.vocab_size:
            raise IndexError(f"no token {token}")
        if at < self.pending.index:
            self._truncate(at)
        return self._choose(self.pending, token, "picked", None)

    def back(self) -> bool:
        """Undo the last choice: its step is pending again, with its distribution as it was."""
        if len(self.steps) < 2:
            return False
        self._truncate(len(self.steps) - 2)
        return True

    def candidates(self, step: Step, k: int = 10) -> list[Candidate]:
        """The k most likely characters at step, plus the chosen one if it ranks lower."""
        order = torch.sort(step.probs, descending=True, stable=True).indices.tolist()
        spans = {token: (low, high) for token, low, high in layout(step.shaped)}
        out = []
        for r, tok in enumerate(order):
            if r >= k and tok != step.chosen:
                continue
            low, high = spans.get(tok, (0.0, 0.0))
            out.append(
                Candidate(
                    rank=r + 1,
                    token=tok,
                    char=self.tokenizer.chars[tok],
                    prob=float(step.probs[tok]),
                    shaped=float(step.shaped[tok]),
                    cum_low=low,
                    cum_high=high,
                    chosen=tok == step.chosen,
                )
            )
        return out

    def _truncate(self, at: int) -> None:
        """Make step `at` pending again, dropping everything after it."""
        del self.steps[at + 1 :]
        step = self.steps[at]
        self.steps[at] = replace(
            step,
            chosen=None,
            how="",
            draw=None,
            sampling=self.sampling,
            shaped=self._shape(step.logits),
        )
        self.stepper.truncate(len(self.prompt) + at)

    def _choose(self, step: Step, token: int, how: str, d: Draw | None) -> Step:
        step.chosen, step.how, step.draw = token, how, d
        self.steps.append(self._pending(self.stepper.append(token), step.index + 1))
        return step

    def _pending(self, out: Forward, index: int) -> Step:
        ids = self.stepper.ids
        probs = F.softmax(out.logits.double(), dim=-1).float()
        return Step(
            index=index,
            start=out.start,
            context=ids[out.start : out.start + out.length],
            logits=out.logits,
            probs=probs,
            shaped=self._shape(out.logits),
            sampling=self.sampling,
            attention=out.attention,
            recomputed=out.recomputed,
            entropy_bits=entropy_bits(probs),
        )

    def _shape(self, logits: torch.Tensor) -> torch.Tensor:
        s = self.sampling
        return shape_probs(logits, s.temperature, s.top_k, s.top_p)


def kl_bits(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) in bits; infinite where q gives zero to something p does not."""
    p, q = p.double(), q.double()
    mask = p > 0
    if bool((q[mask] <= 0).any()):
        return math.inf
    return float((p[mask] * (torch.log2(p[mask]) - torch.log2(q[mask]))).sum())


@dataclass(frozen=True)
class Comparison:
    """Two next-character distributions over the same characters, and how far apart they are."""

    chars: str
    probs_a: torch.Tensor
    probs_b: torch.Tensor
    kl_ab: float
    kl_ba: float
    note: str = ""


def next_probs(model: GPT, tokenizer: CharTokenizer, prompt: str) -> torch.Tensor:
    """The model's distribution (V,) for the character after prompt (its last block_size)."""
    if not prompt:
        raise DataError("the prompt is empty; type at least one character")
    ids = tokenizer.encode(prompt)[-model.config.block_size :]
    out = Stepper(model).reset(ids)
    return F.softmax(out.logits.double(), dim=-1)


def compare(a: tuple[GPT, CharTokenizer, str], b: tuple[GPT, CharTokenizer, str]) -> Comparison:
    """The next-character distributions for (model, tokenizer, prompt) a and b, and their KL.

    Two checkpoints may know different characters: then both distributions are restricted to
    the characters they share and renormalised, and `note` says how many were left out.
    """
    pa, pb = next_probs(*a), next_probs(*b)
    ta, tb = a[1], b[1]
    if ta.vocab == tb.vocab:
        return Comparison(ta.vocab, pa, pb, kl_bits(pa, pb), kl_bits(pb, pa))
    shared = [ch for ch in ta.chars if ch in tb.stoi]
    if not shared:
        raise DataError("the two models share no characters; there is nothing to compare")
    qa = pa[[ta.stoi[ch] for ch in shared]]
    qb = pb[[tb.stoi[ch] for ch in shared]]
    qa, qb = qa / qa.sum(), qb / qb.sum()
    left = len(set(ta.chars) ^ set(tb.chars))
    note = (
        f"the vocabularies differ: compared on the {len(shared)} shared characters "
        f"({left} left out), renormalised"
    )
    return Comparison("".join(shared), qa, qb, kl_bits(qa, qb), kl_bits(qb, qa), note)
