"""Training benchmark: our trainer on tiny-shakespeare, and side by side with a plain loop.

    .venv/bin/python -m bench.train                    # tutorial and small, full length
    .venv/bin/python -m bench.train --preset small     # one preset
    .venv/bin/python -m bench.train --steps 50         # a quick check that it all works

For each preset, in a fresh process (so that peak memory is that preset's own):
1. a whole run of our Trainer as `minigpt-tui train` would do it (periodic evaluations,
   samples and checkpoints included) reporting ms/step, tokens/s, peak RSS and wall time, then
   the final validation loss averaged over --eval-batches batches;
2. the same model and recipe trained by a plain PyTorch loop written the ordinary nanoGPT way
   (per-sample slicing, torch.stack, AdamW, clip, step), alternating short chunks of steps
   with our trainer in one process. Machines like ours vary by 20-40% from run to run, so only
   the ratio of the two medians says anything about the trainer itself; chunks of 2 steps
   keep both loops under the same load (chunks of 20 on a busy machine swung it by 8%).
"""

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from data.batches import encode_corpus, split_ids
from data.corpus import load_corpus
from data.tokenizer import CharTokenizer
from engine.control import Control
from engine.events import DoneEvent, EvalEvent, FailedEvent, StepEvent
from engine.model import GPT, GPTConfig
from engine.runner import make_trainer, new_run_dir, stream_events
from engine.settings import Settings, resolve
from engine.trainer import BETA2, Trainer, lr_at

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
PRESETS = ("tutorial", "small")


def settings_for(preset: str, data: Path, steps: int | None) -> Settings:
    """The preset exactly as a user gets it, on the given file and the CPU."""
    train: dict[str, Any] = {"preset": preset, "data": str(data), "device": "cpu"}
    if steps is not None:
        train["steps"] = steps
    return resolve({}, {"train": train}, "bench")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------
# 1. a whole run of our trainer


def full_run(settings: Settings, eval_batches: int) -> dict[str, Any]:
    """Train start to end through the runner, into a throw-away run directory."""
    with tempfile.TemporaryDirectory() as tmp:
        run = new_run_dir(settings, Path(tmp) / "run")
        trainer = make_trainer(settings, run, Control(), resume=False)
        step_times: list[float] = []
        reported_val = math.nan
        began = last = time.perf_counter()
        for event in stream_events(run, trainer):
            now = time.perf_counter()
            if isinstance(event, StepEvent):
                step_times.append(now - last)
            elif isinstance(event, EvalEvent):
                reported_val = event.val_loss
            elif isinstance(event, FailedEvent):
                raise SystemExit(f"bench: the run failed: {event.message}")
            last = time.perf_counter()
            if isinstance(event, DoneEvent):
                break
        wall = time.perf_counter() - began
        peak = peak_rss_mb()

        # the final figure, on many more batches than the trainer's own quick evaluations
        trainer.settings.train.eval_batches = eval_batches
        train_loss, val_loss = trainer.estimate_loss()

    median = statistics.median(step_times)
    return {
        "steps": len(step_times),
        "ms_per_step": 1000 * median,
        "tokens_per_s": trainer.tokens_per_step / median,
        "wall_s": wall,
        "peak_rss_mb": peak,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "eval_batches": eval_batches,
        "reported_val_loss": reported_val,
        "params": sum(p.numel() for p in trainer.model.parameters()),
    }


# ---------------------------------------------------------------------------------------------
# 2. the plain loop, the way nanoGPT's train.py writes it


@dataclass
class PlainLoop:
    """Our GPT trained by a textbook loop: Python-sliced batches, AdamW, clip, step."""

    settings: Settings
    model: GPT
    optimizer: torch.optim.Optimizer
    train_ids: torch.Tensor
    step: int = 0

    @classmethod
    def build(cls, settings: Settings, text: str) -> "PlainLoop":
        m, t = settings.model, settings.train
        tokenizer = CharTokenizer.from_text(text)
        ids = encode_corpus(text, tokenizer).long()
        train_ids, _ = split_ids(ids, t.val_fraction, m.block_size, "bench")
        torch.manual_seed(t.seed)
        model = GPT(
            GPTConfig(tokenizer.vocab_size, m.block_size, m.n_layer, m.n_head, m.n_embd, m.dropout)
        )
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": t.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=t.lr,
            betas=(0.9, BETA2),
        )
        return cls(settings, model, optimizer, train_ids)

    def get_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        T, B = self.settings.model.block_size, self.settings.train.batch_size
        ix = torch.randint(len(self.train_ids) - T, (B,))
        x = torch.stack([self.train_ids[i : i + T] for i in ix])
        y = torch.stack([self.train_ids[i + 1 : i + 1 + T] for i in ix])
        return x, y

    def train_steps(self, n: int) -> float:
        """n optimizer steps; the last loss."""
        t = self.settings.train
        loss = torch.tensor(math.nan)
        for _ in range(n):
            for group in self.optimizer.param_groups:
                group["lr"] = lr_at(self.step, t)
            for _ in range(t.grad_accum):
                x, y = self.get_batch()
                _, loss = self.model(x, y)
                (loss / t.grad_accum).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
        return loss.item()


def side_by_side(settings: Settings, chunks: int, chunk_steps: int) -> dict[str, Any]:
    """Alternate chunks of steps between our trainer and the plain loop; median tokens/s each."""
    m, t = settings.model, settings.train
    corpus = load_corpus(str(settings.train.data), Path(tempfile.gettempdir()))

    # no evaluations or checkpoints inside the timed chunks: they are training steps only
    warmup = 2
    settings.train.steps = max(t.steps, warmup + chunks * chunk_steps + 1)
    settings.train.eval_interval = settings.train.checkpoint_interval = 10**9
    ours = Trainer(settings, corpus)
    events = ours.run()
    next(events)  # the start event
    plain = PlainLoop.build(settings, corpus.text)
    tokens = t.batch_size * m.block_size * t.grad_accum * chunk_steps

    def ours_steps(n: int) -> None:
        for _ in range(n):
            next(events)

    loops = {"ours": ours_steps, "plain": plain.train_steps}
    for steps in loops.values():
        steps(warmup)  # first calls allocate

    # alternate which loop goes first, so that neither always follows the other
    rates: dict[str, list[float]] = {"ours": [], "plain": []}
    for i in range(chunks):
        for name in ("ours", "plain") if i % 2 == 0 else ("plain", "ours"):
            began = time.perf_counter()
            loops[name](chunk_steps)
            rates[name].append(tokens / (time.perf_counter() - began))

    ours_median = statistics.median(rates["ours"])
    plain_median = statistics.median(rates["plain"])
    return {
        "chunks": chunks,
        "chunk_steps": chunk_steps,
        "ours_tokens_per_s": ours_median,
        "plain_tokens_per_s": plain_median,
        "ratio": ours_median / plain_median,
        "ours_chunks": [round(r) for r in rates["ours"]],
        "plain_chunks": [round(r) for r in rates["plain"]],
    }


# ---------------------------------------------------------------------------------------------
# driver: each preset in its own process, a table at the end


def measure(preset: str, args: argparse.Namespace) -> dict[str, Any]:
    """Both measurements for one preset, in this process."""
    result: dict[str, Any] = {"preset": preset, "threads": torch.get_num_threads()}
    result["run"] = full_run(settings_for(preset, args.data, args.steps), args.eval_batches)
    chunk_steps = args.chunk_steps
    result["compare"] = side_by_side(
        settings_for(preset, args.data, args.steps), args.chunks, chunk_steps
    )
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'preset':<9} {'steps':>5} {'ms/step':>8} {'tokens/s':>9} {'peak RSS':>9} "
        f"{'val loss':>8} {'wall':>7} {'vs plain':>9}"
    )
    for r in results:
        run, cmp = r["run"], r["compare"]
        print(
            f"{r['preset']:<9} {run['steps']:>5} {run['ms_per_step']:>8.1f} "
            f"{run['tokens_per_s']:>9,.0f} {run['peak_rss_mb']:>6.0f} MB "
            f"{run['val_loss']:>8.4f} {run['wall_s']:>6.1f}s {cmp['ratio']:>8.2f}x"
        )
    for r in results:
        cmp = r["compare"]
        print(
            f"{r['preset']}: median tokens/s over {cmp['chunks']} alternating chunks of "
            f"{cmp['chunk_steps']} steps: ours {cmp['ours_tokens_per_s']:,.0f}, plain loop "
            f"{cmp['plain_tokens_per_s']:,.0f}; val loss over {r['run']['eval_batches']} "
            f"batches (trainer's own last eval: {r['run']['reported_val_loss']:.4f}); "
            f"{r['run']['params']:,} parameters, {r['threads']} threads"
        )


def print_targets(results: list[dict[str, Any]]) -> None:
    """The targets of issue 2, each with the figure measured against it."""
    for r in results:
        run, cmp = r["run"], r["compare"]
        checks = [
            (
                f"{r['preset']}: trainer tokens/s vs the plain loop >= 1.00x",
                f"{cmp['ratio']:.2f}x",
                cmp["ratio"] >= 1.0,
            )
        ]
        if r["preset"] == "small" and run["steps"] == 2000:
            checks.append(
                (
                    "small: validation loss at step 2000 <= 1.88",
                    f"{run['val_loss']:.4f}",
                    run["val_loss"] <= 1.88,
                )
            )
        if r["preset"] == "tutorial" and run["steps"] == 500:
            checks.append(
                ("tutorial: 500 steps in under 20 s", f"{run['wall_s']:.1f} s", run["wall_s"] < 20)
            )
        for target, figure, met in checks:
            print(f"{'met ' if met else 'MISSED'} {target}: {figure}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        action="append",
        help="benchmark this preset (repeatable; default: tutorial and small)",
    )
    parser.add_argument("--steps", type=int, help="override the preset's step count")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the training text")
    parser.add_argument(
        "--eval-batches",
        type=int,
        default=200,
        help="batches for the final train/validation loss (default 200)",
    )
    parser.add_argument(
        "--chunks",
        type=int,
        default=60,
        help="alternating chunks per loop in the comparison (default 60)",
    )
    parser.add_argument("--chunk-steps", type=int, default=2, help="steps per chunk (default 2)")
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: torch's own choice, one per core)"
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"{args.data}: no such file (pass --data)")

    if args.in_process:
        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.preset[0], args)))
        return 0

    results = []
    for preset in args.preset or PRESETS:
        child = [
            sys.executable,
            "-m",
            "bench.train",
            "--in-process",
            "--preset",
            preset,
            "--data",
            str(args.data),
            "--eval-batches",
            str(args.eval_batches),
            "--chunks",
            str(args.chunks),
        ]
        child += ["--steps", str(args.steps)] if args.steps else []
        child += ["--chunk-steps", str(args.chunk_steps)]
        child += ["--threads", str(args.threads)] if args.threads else []
        print(f"benchmarking {preset} ...", file=sys.stderr, flush=True)
        out = subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print_table(results)
    print_targets(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
