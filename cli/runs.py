"""`minigpt-tui runs`: the runs in the data directory, newest first, as an aligned table."""

import argparse
import time
from pathlib import Path

from data.errors import RunError
from engine import paths
from engine.runs import RunSummary, format_age, list_runs

COLUMNS = ("NAME", "STATE", "STEP", "BEST VAL", "AGE", "PRESET")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "runs",
        help="list runs with state, step, loss and age",
        description="List the run directories, the most recently active first.",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        metavar="FOLDER",
        help="list the runs in this folder (default: the data directory's runs)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    root = args.dir if args.dir is not None else paths.runs_dir()
    if args.dir is not None and not args.dir.is_dir():
        raise RunError(f"{args.dir}: no such folder")
    summaries = list_runs(root)
    if not summaries:
        print(f"no runs in {root}")
        return 0
    now = time.time()
    print(format_table([COLUMNS, *(_row(s, now) for s in summaries)]))
    print(f"\n{len(summaries)} run{'s' if len(summaries) != 1 else ''} in {root}")
    return 0


def _row(s: RunSummary, now: float) -> tuple[str, ...]:
    step = f"{s.step}/{s.max_steps}" if s.max_steps else str(s.step)
    best = f"{s.best_val_loss:.4f}" if s.best_val_loss is not None else "-"
    return (s.name, s.state, step, best, format_age(s.age(now)), s.preset or "-")


def format_table(rows: list[tuple[str, ...]]) -> str:
    """rows as columns padded to their widest cell, two spaces apart; numbers right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3, 4}
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
