"""`minigpt-tui generate`: text from a trained model, for pipes, scripts and SSH sessions.

Plain output is the prompt and its continuation. `--explain K` prints each step's top K
candidates and the draw; `--json` prints one JSON object per step instead of the text. The
same seed gives the same text in all three forms, and in the dashboard's generation pane.
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from cli.options import non_negative_int, positive_int, whole_number
from data.errors import CheckpointError, DataError
from data.tokenizer import visible

EPILOG = """\
Sampling defaults come from the [sample] section of the settings file (`minigpt-tui
settings`). Temperature 0 (or --greedy) always takes the most likely character; --top-k keeps
the K most likely (K at or above the vocabulary size keeps them all); --top-p keeps the
smallest set of most likely characters whose probabilities reach P. The model sees the last
block_size characters, as in training; a longer prompt is cut to those, with a note. In bash,
$'ROMEO:\\n' puts a newline in the prompt.
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "generate",
        help="generate text from a trained model",
        description="Continue a prompt with a trained model, optionally explaining each step.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--run", type=Path, metavar="RUN_DIR", dest="run_dir", help="use this run's checkpoint"
    )
    source.add_argument("--checkpoint", type=Path, metavar="FILE", help="use this checkpoint")
    parser.add_argument("--prompt", required=True, metavar="TEXT", help="text to continue")
    parser.add_argument(
        "--tokens",
        type=positive_int,
        metavar="N",
        help="characters to generate (default: [sample] length)",
    )
    parser.add_argument(
        "--temperature",
        type=temperature,
        metavar="T",
        help="0 is greedy; below 1 sharpens, above 1 flattens",
    )
    parser.add_argument(
        "--top-k", type=top_k, metavar="K", help="sample only from the K most likely characters"
    )
    parser.add_argument(
        "--top-p",
        type=top_p,
        metavar="P",
        help="sample only from the most likely characters reaching mass P",
    )
    parser.add_argument("--greedy", action="store_true", help="same as --temperature 0")
    parser.add_argument(
        "--seed", type=non_negative_int, metavar="S", help="random seed (default: [sample])"
    )
    parser.add_argument(
        "--explain",
        type=positive_int,
        metavar="K",
        help="print each step's top K candidates and the draw",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per step (K candidates: --explain, else 10)",
    )
    parser.set_defaults(run=run)


def temperature(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 (greedy) or more")
    return value


def top_k(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{value}: must be at least 1 (leave it out to keep every character)"
        )
    return value


def top_p(text: str) -> float:
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be above 0 and at most 1")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def run(args: argparse.Namespace) -> int:
    if not args.prompt:
        raise DataError("--prompt is empty; give at least one character")

    # torch loads only here, after the arguments have been checked
    from engine import paths
    from engine.loading import load_model
    from engine.sampler import Sampling
    from engine.settings import load_settings

    defaults = load_settings(paths.settings_path()).sample
    sampling = Sampling(
        temperature=0.0 if args.greedy else _pick(args.temperature, defaults.temperature),
        top_k=_pick(args.top_k, defaults.top_k),
        top_p=_pick(args.top_p, defaults.top_p),
        seed=_pick(args.seed, defaults.seed),
    ).check()
    length = _pick(args.tokens, defaults.length)
    loaded = load_model(_model_path(args))
    loaded.tokenizer.encode(args.prompt)  # a DataError naming unknown characters, before work
    prompt = args.prompt
    if len(prompt) > loaded.model.config.block_size:
        prompt = prompt[-loaded.model.config.block_size :]
        print(
            f"minigpt-tui: note: the prompt has {len(args.prompt)} characters; the model sees "
            f"only the last {len(prompt)}, so it was cut to those",
            file=sys.stderr,
        )

    try:
        if args.json or args.explain:
            _explained(loaded, prompt, length, sampling, args.explain or 10, args.json)
        else:
            _plain(loaded, prompt, length, sampling)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _model_path(args: argparse.Namespace) -> Path:
    if args.run_dir is not None:
        path = args.run_dir.expanduser()
        if path.exists() and not path.is_dir():
            raise CheckpointError(
                f"--run {path}: is a file, not a run directory (use --checkpoint for a file)"
            )
        if not path.exists():
            raise CheckpointError(f"--run {path}: no such run directory")
        return path
    path = args.checkpoint.expanduser()
    if path.is_dir():
        raise CheckpointError(f"--checkpoint {path}: is a directory (use --run for a run)")
    return path


def _plain(loaded: Any, prompt: str, length: int, sampling: Any) -> None:
    """The prompt and its continuation, each character written as it is drawn."""
    from engine.sampler import sample_ids

    out = sys.stdout
    live = out.isatty()
    out.write(prompt)
    last = prompt[-1]
    ids = loaded.tokenizer.encode(prompt)
    for token in sample_ids(loaded.model, ids, length, sampling):
        last = loaded.tokenizer.chars[token]
        out.write(last)
        if live:
            out.flush()
    out.write("" if last == "\n" else "\n")
    out.flush()


def _explained(loaded: Any, prompt: str, length: int, sampling: Any, k: int, as_json: bool) -> None:
    """A table (or a JSON object) per step, then the text after the tables."""
    from engine.generation import Generation

    gen = Generation(loaded.model, loaded.tokenizer, sampling, attention=False)
    gen.set_prompt(prompt)
    out = sys.stdout
    for _ in range(length):
        step = gen.step()
        rows = gen.candidates(step, k)
        if as_json:
            out.write(json.dumps(_step_object(gen, step, rows, k), ensure_ascii=False) + "\n")
        else:
            _write_table(out, gen, step, rows)
    if not as_json:
        text = loaded.tokenizer.decode(gen.ids)
        out.write(text + ("" if text.endswith("\n") else "\n"))
    out.flush()


def _step_object(gen: Any, step: Any, rows: list[Any], k: int) -> dict[str, Any]:
    """The step as JSON: the top k candidates (rows may add the chosen one, ranked lower)."""
    chars = gen.tokenizer.chars
    obj: dict[str, Any] = {
        "step": step.index + 1,
        "chosen": chars[step.chosen],
        "chosen_id": step.chosen,
        "how": step.how,
        "candidates": [
            {
                "token": r.char,
                "id": r.token,
                "prob": round(r.prob, 6),
                "sampled_prob": round(r.shaped, 6),
            }
            for r in rows[:k]
        ],
        "entropy_bits": round(step.entropy_bits, 6),
        "surprisal_bits": round(step.surprisal_bits, 6),
    }
    if step.draw is not None:
        obj["u"] = round(step.draw.u, 6)
        obj["interval"] = [round(step.draw.low, 6), round(step.draw.high, 6)]
    return obj


def _write_table(out: TextIO, gen: Any, step: Any, rows: list[Any]) -> None:
    ch = visible(gen.tokenizer.chars[step.chosen])
    if step.draw is not None:
        how = (
            f"drew {ch!r} (id {step.chosen}): u = {step.draw.u:.4f} fell in "
            f"[{step.draw.low:.4f}, {step.draw.high:.4f})"
        )
    else:
        how = f"{step.how} {ch!r} (id {step.chosen})"
    out.write(
        f"step {step.index + 1}: {how}; entropy {step.entropy_bits:.2f} bits, "
        f"surprisal {step.surprisal_bits:.2f} bits\n"
    )
    out.write("  rank  char    id    prob  sampled  interval\n")
    for r in rows:
        interval = "removed" if r.filtered else f"{r.cum_low:.3f}-{r.cum_high:.3f}"
        bar = "█" * round(r.prob * 20)
        mark = " <" if r.chosen else ""
        out.write(
            f"  {r.rank:>4}  {visible(r.char):<4} {r.token:>4}  {r.prob:.4f}   "
            f"{r.shaped:.4f}  {interval:<11} {bar}{mark}\n"
        )
    out.write("\n")
