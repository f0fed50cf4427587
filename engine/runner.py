"""Setting up a run directory and streaming a trainer's events into it.

The headless CLI, the dashboard's child trainer and the tests all start runs through here, so a
run directory looks the same whoever made it. Under torchrun, rank 0 makes a Plan that every
rank builds its trainer from (see cli/train.py).
"""

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.corpus import Corpus, load_corpus
from data.errors import CheckpointError, DataError, RunError
from engine import paths
from engine.checkpoint import load_checkpoint
from engine.control import Control, FileControl
from engine.distributed import Group
from engine.events import Event, EventWriter, FailedEvent
from engine.run_dir import RunDir
from engine.settings import Layer, Settings, merge, validate
from engine.trainer import Trainer


def start_new_run(
    settings: Settings, out: Path | None = None, corpus: Corpus | None = None
) -> tuple[RunDir, Trainer]:
    """A new run directory and its trainer, reading control.jsonl for requests.

    The corpus (settings.train.data unless given) is read and the model built before the
    folder is made, so that bad data or settings leave nothing behind.
    """
    if out is not None:
        refuse_existing_run(out.expanduser())
    if corpus is None:
        corpus = load_corpus(settings.train.data, paths.corpus_cache_dir())
    trainer = Trainer(settings, corpus)
    run = new_run_dir(settings, out)
    trainer.run_name, trainer.checkpoint_path = run.name, run.checkpoint
    trainer.control = FileControl(run.control)
    return run, trainer


def refuse_existing_run(out: Path) -> None:
    """A RunError when out already holds a run."""
    if (out / "events.jsonl").exists() or (out / "checkpoint.pt").exists():
        raise RunError(f"{out}: already holds a run; continue it with --resume {out}")


def new_run_dir(settings: Settings, out: Path | None = None) -> RunDir:
    """out (created if needed, refused if it already holds a run), or a fresh dated folder."""
    if out is None:
        run = RunDir.create(paths.runs_dir(), settings.train.preset)
    else:
        out = out.expanduser()
        refuse_existing_run(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"{out}: cannot create the run directory ({exc.strerror})") from None
        run = RunDir(out)
    run.write_config(settings)
    return run


def resume_settings(run: RunDir, overrides: Layer) -> Settings:
    """The run's own settings with overrides applied; the model's shape cannot change."""
    settings = run.read_config()
    if overrides.get("model"):
        keys = ", ".join(f"model.{k}" for k in overrides["model"])
        raise RunError(f"{run.path}: cannot change {keys} when resuming; start a new run")
    layer = settings.to_dict()
    return validate(merge(layer, overrides), "--set")


def make_trainer(settings: Settings, run: RunDir, control: Control, resume: bool) -> Trainer:
    """A Trainer on the run's corpus, restored from its checkpoint when resuming."""
    corpus = load_corpus(settings.train.data, paths.corpus_cache_dir())
    state = load_resume_state(settings, run) if resume else None
    return Trainer(settings, corpus, run.name, run.checkpoint, control, state)


def load_resume_state(settings: Settings, run: RunDir) -> dict[str, Any]:
    """The run's checkpoint, refused when it is missing or its model differs from settings."""
    if not run.checkpoint.exists():
        raise CheckpointError(f"{run.checkpoint}: no checkpoint to resume from")
    state = load_checkpoint(run.checkpoint)
    saved = state["settings"].get("model")
    if saved != settings.to_dict()["model"]:
        raise CheckpointError(
            f"{run.checkpoint}: its model settings {saved} differ from {run.config}"
        )
    return state


def refuse_finished(run: RunDir, step: int, settings: Settings) -> None:
    """A RunError when a resumed run has no steps left to train."""
    if step >= settings.train.steps:
        raise RunError(
            f"{run.path}: already trained {step} of {settings.train.steps} steps; pass "
            f"--steps N with N above {step} to train further"
        )


@dataclass
class Plan:
    """What rank 0 decided to train, sent to every rank of a torchrun group."""

    settings: Settings
    run: RunDir | None
    """The run directory when resuming; a new one is made once every rank is ready."""
    state: dict[str, Any] | None
    """The checkpoint to resume from, read by rank 0 alone: no rank needs rank 0's disk."""
    corpus_digest: str
    """Every rank reads the corpus itself, and must read the same text as rank 0."""


def corpus_digest(corpus: Corpus) -> str:
    """A fingerprint of the training text, to check that every rank reads the same."""
    return hashlib.blake2b(corpus.text.encode("utf-8"), digest_size=16).hexdigest()


def rank_trainer(plan: Plan, group: Group) -> Trainer:
    """This rank's Trainer for rank 0's plan, on its own copy of the corpus."""
    corpus = load_corpus(plan.settings.train.data, paths.corpus_cache_dir())
    if corpus_digest(corpus) != plan.corpus_digest:
        raise DataError(
            f"{corpus.source}: differs from rank 0's copy; every machine needs the same text"
        )
    checkpoint = plan.run.checkpoint if plan.run and group.is_main else None
    return Trainer(
        plan.settings, corpus, checkpoint_path=checkpoint, resume_state=plan.state, group=group
    )


def open_planned_run(plan: Plan, out: Path | None, trainer: Trainer, held: ExitStack) -> RunDir:
    """Rank 0's run directory, made now for a new run, locked, and wired to the trainer."""
    run = plan.run
    if run is None:
        run = new_run_dir(plan.settings, out)
        held.enter_context(run.hold_lock())
    trainer.run_name, trainer.checkpoint_path = run.name, run.checkpoint
    trainer.control = FileControl(run.control)
    return run


def stream_events(run: RunDir, trainer: Trainer) -> Iterator[Event]:
    """Run the trainer, appending each event to events.jsonl before handing it on.

    An unexpected exception is recorded as a failed event first, so that anyone following
    the run directory sees the run end rather than go quiet.
    """
    writer = EventWriter(run.events)
    try:
        for event in trainer.run():
            writer.write(event)
            yield event
    except Exception as exc:
        writer.write(FailedEvent(trainer.step, message=f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        writer.close()
