"""`minigpt-tui train`: headless training with a progress bar, for servers and scripts.

Started by torchrun, every process runs this command and they train together with
DistributedDataParallel: rank 0 reads the settings, prints progress and writes the run
directory, the other ranks print only their errors (see engine/distributed.py).
"""

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from cli.options import add_run_options, non_negative_int, overrides_from
from data.corpus import load_corpus
from data.errors import MinigptError, RunError
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
from engine.settings import Layer, load_settings

if TYPE_CHECKING:
    from engine.distributed import TorchrunGroup
    from engine.runner import Plan
    from engine.trainer import Trainer

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
# torchrun sets these in every process it starts; checked here so plain runs skip torch
TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


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
    if all(name in os.environ for name in TORCHRUN_VARIABLES):
        return _run_rank(args)
    overrides = _checked_overrides(args)
    if args.resume:
        run_dir = RunDir.open(args.resume)
    else:
        settings = load_settings(paths.settings_path(), overrides)
        corpus = load_corpus(settings.train.data, paths.corpus_cache_dir())

    # torch loads only now, so that --help, bad settings and bad data are answered at once
    from engine.runner import (
        make_trainer,
        refuse_finished,
        resume_settings,
        start_new_run,
        stream_events,
    )

    if args.resume:
        settings = resume_settings(run_dir, overrides)
    else:
        run_dir, trainer = start_new_run(settings, args.out, corpus)

    with run_dir.hold_lock():
        if args.resume:
            trainer = make_trainer(settings, run_dir, FileControl(run_dir.control), resume=True)
            refuse_finished(run_dir, trainer.step, settings)
        interrupted = _stop_on_signals(trainer.control)
        last = _report(stream_events(run_dir, trainer), args.quiet, run_dir)
    return _exit_code(last, interrupted())


def _checked_overrides(args: argparse.Namespace) -> Layer:
    """The settings overrides the arguments make, once they are known to fit together."""
    if args.resume and args.out:
        raise RunError(
            "--out and --resume cannot be used together: a resumed run continues "
            "in its own directory"
        )
    return overrides_from(args)


def _report(events: Iterator[Event], quiet: bool, run_dir: RunDir) -> Event | None:
    report = _report_rich if sys.stdout.isatty() and not quiet else _report_plain
    return report(events, quiet, str(run_dir.path))


def _exit_code(last: Event | None, interrupted: bool, speak: bool = True) -> int:
    """1 for a failed run (saying why when speak), 130 after a signal, else 0."""
    if isinstance(last, FailedEvent):
        if speak:
            print(f"minigpt-tui: training failed: {last.message}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_INTERRUPTED if interrupted else 0


def _run_rank(args: argparse.Namespace) -> int:
    """`train` as one of torchrun's processes: rank 0 reports, every rank trains.

    An error on any rank is one line on stderr: rank 0 prints the errors that stop every
    rank before training (naming the rank when it is another one), any rank its own after.
    """
    from engine.distributed import PeerFailed, TorchrunGroup

    group = TorchrunGroup.join()
    finished = False
    try:
        code = _train_rank(args, group)
        finished = True
        return code
    except PeerFailed:
        return EXIT_BAD_INPUT
    except MinigptError as exc:
        if group.is_main:
            raise
        print(f"minigpt-tui: error: rank {group.rank}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        # a traceback from each of N processes would bury the one line that matters
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"minigpt-tui: error: rank {group.rank} failed: {type(exc).__name__}: {reason}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    finally:
        group.close(finished)


def _train_rank(args: argparse.Namespace, group: "TorchrunGroup") -> int:
    """This rank's share of the run, and its exit code.

    Its own function so that the trainer and its DistributedDataParallel model are released
    before the process group is.
    """
    from engine.runner import stream_events

    with ExitStack() as held:
        run_dir, trainer = _join_run(args, group, held)
        interrupted = _stop_on_signals(trainer.control)
        if group.is_main:
            last = _report(stream_events(run_dir, trainer), args.quiet, run_dir)
        else:
            last = None
            for event in trainer.run():
                last = event
    return _exit_code(last, interrupted(), speak=group.is_main)


def _join_run(
    args: argparse.Namespace, group: "TorchrunGroup", held: ExitStack
) -> tuple[RunDir, "Trainer"]:
    """Rank 0 plans the run, every rank builds its trainer, then rank 0 makes the directory.

    Each phase ends with the ranks agreeing, so bad settings, data or checkpoints stop every
    rank before training, and a new run's directory is made only once every rank is ready.
    The other ranks learn its name from rank 0: --out is optional, as without torchrun.
    """
    from engine.runner import open_planned_run, rank_trainer

    plan = group.share(lambda: _plan(args, held))
    trainer = group.agree(lambda: rank_trainer(plan, group))
    run_dir = group.share(lambda: open_planned_run(plan, args.out, trainer, held))
    trainer.run_name = run_dir.name
    return run_dir, trainer


def _plan(args: argparse.Namespace, held: ExitStack) -> "Plan":
    """Rank 0's decision: settings, corpus fingerprint and, when resuming, the checkpoint.

    Only rank 0 reads the settings file, the run directory and the checkpoint, so the other
    machines need none of them; every rank needs the corpus (checked by rank_trainer).
    """
    from engine.runner import (
        Plan,
        corpus_digest,
        load_resume_state,
        refuse_existing_run,
        refuse_finished,
        resume_settings,
    )

    overrides = _checked_overrides(args)
    run_dir, state = None, None
    if args.resume:
        run_dir = RunDir.open(args.resume)
        settings = resume_settings(run_dir, overrides)
        held.enter_context(run_dir.hold_lock())
        state = load_resume_state(settings, run_dir)
        refuse_finished(run_dir, int(state["step"]), settings)
    else:
        settings = load_settings(paths.settings_path(), overrides)
        if args.out is not None:
            refuse_existing_run(args.out.expanduser())
    corpus = load_corpus(settings.train.data, paths.corpus_cache_dir())
    return Plan(settings, run_dir, state, corpus_digest(corpus))


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
    where = event.device
    if event.world_size > 1:
        where = f"{event.world_size} processes (rank 0 on {event.device})"
    return (
        f"{verb} {event.run} at step {event.step}: {event.params['total']:,} parameters "
        f"({m['n_layer']} layers, {m['n_head']} heads, {m['n_embd']} wide, context "
        f"{m['block_size']}), {event.vocab_size} characters, on {where}; "
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
