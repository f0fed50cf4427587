"""`minigpt-tui watch RUN_DIR`: the dashboard on any run directory, without training controls.

The run may be training elsewhere (headless, under torchrun, in another dashboard) or finished;
the dashboard follows its events.jsonl as it grows and generates from its latest checkpoint.
"""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from data.errors import RunError
from engine.run_dir import RunDir

if TYPE_CHECKING:
    from tui.app import DashboardApp


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "watch",
        help="open the dashboard on a run directory, read-only",
        description="Follow a run directory in the dashboard: live while it trains, or "
        "finished. Pause, stop and the other training controls are off.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    app = dashboard_for(check_watchable(args.run_dir))
    app.run()
    return app.return_code or 0


def dashboard_for(run: RunDir) -> "DashboardApp":
    """The dashboard following run, with the training controls off."""
    from tui.app import DashboardApp  # textual loads only once the input is known good

    return DashboardApp(run_dir=run.path, read_only=True)


def check_watchable(path: Path) -> RunDir:
    """The run directory at path if there is something to watch, else a RunError saying why.

    A run with no events yet, or without a checkpoint, is fine while its trainer is alive
    (they are on their way); once no trainer holds it, there is nothing more to come.
    """
    run = RunDir.open(path)
    alive = run.trainer_pid() is not None
    if not _has_content(run.events) and not alive:
        what = "an empty events.jsonl" if run.events.exists() else "no events.jsonl"
        raise RunError(f"{run.path}: {what} and no trainer running it: nothing to watch")
    if not run.checkpoint.is_file():
        if not alive:
            raise RunError(
                f"{run.path}: no checkpoint.pt and no trainer running it: "
                "the run ended before its first checkpoint"
            )
        print(
            f"minigpt-tui: note: {run.path} has no checkpoint yet; the generation pane "
            "waits for the first one",
            file=sys.stderr,
        )
    return run


def _has_content(path: Path) -> bool:
    """True if the file holds anything but whitespace (it is read in chunks: runs grow big)."""
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 16):
                if chunk.strip():
                    return True
    except FileNotFoundError:
        return False
    return False
