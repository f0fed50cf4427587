"""`minigpt-tui train`: headless training with a progress bar, for servers and scripts."""

import argparse
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from cli.options import add_run_options, non_negative_int, overrides_from
from data.corpus import load_corpus
from data.errors import RunError
from engine import paths
from engine.control import Control, FileControl
from engine.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    Event,
    FailedEvent,
    StartEvent,
    StepEvent,
    WarningEvent,
)
from engine.run_dir import RunDir
from engine.settings import load_settings

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train without the dashboard",
        description="Train headless, writing a run directory.",
    )
    add_run_options(parser)
    parser.add_argument("--out", type=Path, metavar="RUN_DIR", help="run directory to create")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--seed", type=non_negative_int, metavar="N", help="random seed")
    parser.add_argument("--quiet", action="store_true", help="print only the final losses")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.resume and args.out:
        raise RunError(
            "--out and --resume cannot be used together: a resumed run continues "
            "in its own directory"
        )
    overrides = overrides_from(args)
    if args.resume:
        run_dir = RunDir.open(args.resume)
    else:
        settings = load_settings(paths.settings_path(), overrides)
        corpus = load_corpus(settings.train.data, paths.corpus_cache_dir())

    # torch loads only now, so that --help, bad settings and bad data are answered at once
    from engine.runner import make_trainer, resume_settings, start_new_run, stream_events

    if args.resume:
        settings = resume_settings(run_dir, overrides)
    else:
        run_dir, trainer = start_new_run(settings, args.out, corpus)

    with run_dir.hold_lock():
        if args.resume:
            trainer = make_trainer(settings, run_dir, FileControl(run_dir.control), resume=True)
            if trainer.step >= settings.train.steps:
                raise RunError(
                    f"{run_dir.path}: already trained {trainer.step} of "
                    f"{settings.train.steps} steps; pass --steps N with N above "
                    f"{trainer.step} to train further"
                )
        interrupted = _stop_on_signals(trainer.control)
        events = stream_events(run_dir, trainer)
        report = _report_rich if sys.stdout.isatty() and not args.quiet else _report_plain
        last = report(events, args.quiet, str(run_dir.path))

    if isinstance(last, FailedEvent):
        print(f"minigpt-tui: training failed: {last.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_INTERRUPTED if interrupted() else 0


def _stop_on_signals(control: Control) -> Callable[[], bool]:
    """Ctrl-C, SIGTERM and SIGHUP ask the trainer to save and stop; a second Ctrl-C forces."""
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if seen and signum == signal.SIGINT:
            raise KeyboardInterrupt
        seen.append(signum)
        control.request("stop")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)
    return lambda: bool(seen)


def _describe_start(event: StartEvent) -> str:
    m = event.config["model"]
    verb = "resuming" if event.resumed else "training"
    return (
        f"{verb} {event.run} at step {event.step}: {event.params['total']:,} parameters "
        f"({m['n_layer']} layers, {m['n_head']} heads, {m['n_embd']} wide, context "
        f"{m['block_size']}), {event.vocab_size} characters, on {event.device}; "
        f"data: {event.data}"
    )


def _describe_end(event: Event | None, run_dir: str) -> str:
    if isinstance(event, DoneEvent):
        losses = ""
        if event.val_loss is not None:
            losses = f": train loss {event.train_loss:.4f}, val loss {event.val_loss:.4f}"
        return f"{event.reason} at step {event.step}{losses}; run directory {run_dir}"
    return ""


def _report_plain(events: Iterator[Event], quiet: bool, run_dir: str) -> Event | None:
    """One line per evaluation, checkpoint and warning, and a step line at most every 2 s."""
    last: Event | None = None
    shown_at = 0.0
    for event in events:
        last = event
        line = ""
        if isinstance(event, StartEvent):
            line = _describe_start(event)
        elif isinstance(event, StepEvent) and time.monotonic() - shown_at > 2.0:
            shown_at = time.monotonic()
            line = (
                f"step {event.step}: loss {event.loss:.4f}, lr {event.lr:.2e}, "
                f"{event.tokens_per_s:,.0f} tokens/s, ETA {event.eta_s:.0f}s"
            )
        elif isinstance(event, EvalEvent):
            line = (
                f"step {event.step}: train loss {event.train_loss:.4f}, "
                f"val loss {event.val_loss:.4f}"
            )
        elif isinstance(event, CheckpointEvent):
            line = f"step {event.step}: checkpoint saved to {event.path}"
        elif isinstance(event, WarningEvent):
            line = f"step {event.step}: warning: {event.message}"
        if line and not quiet:
            print(line, flush=True)
    if isinstance(last, DoneEvent):
        print(_describe_end(last, run_dir), flush=True)
    return last


def _report_rich(events: Iterator[Event], quiet: bool, run_dir: str) -> Event | None:
    """A live progress bar with step, loss, validation loss, tokens/s and ETA."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss [cyan]{task.fields[loss]}"),
        TextColumn("val [magenta]{task.fields[val]}"),
        TextColumn("{task.fields[speed]} tok/s"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
    )
    last: Event | None = None
    task = None
    with progress:
        for event in events:
            last = event
            if isinstance(event, StartEvent):
                console.print(_describe_start(event))
                task = progress.add_task(
                    event.run,
                    total=event.max_steps,
                    completed=event.step,
                    loss="-",
                    val="-",
                    speed="-",
                    eta="-",
                )
            elif task is None:
                continue
            elif isinstance(event, StepEvent):
                progress.update(
                    task,
                    completed=event.step,
                    loss=f"{event.loss:.4f}",
                    speed=f"{event.tokens_per_s:,.0f}",
                    eta=_clock(event.eta_s),
                )
            elif isinstance(event, EvalEvent):
                progress.update(task, val=f"{event.val_loss:.4f}")
            elif isinstance(event, WarningEvent):
                console.print(f"[yellow]warning:[/] {event.message}")
    if isinstance(last, DoneEvent):
        console.print(_describe_end(last, run_dir))
    return last


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
